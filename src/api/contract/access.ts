/** Who may do what: the caller (whoami), tokens and secrets. Secret values go in and never come out. */
import { z } from 'zod';
import { SCOPES } from '../../model/scopes.js';
import { isoTime, isoTimeOrNull, name, pathName, route } from './common.js';

export const principalSchema = z.strictObject({
  name: z.string().describe('token name; "bootstrap" for the server\'s --token; "local" when the server has no auth'),
  scope: z.enum(SCOPES),
  project: z.string().nullable().describe('set when the token only sees and acts on one project'),
});
export type PrincipalView = z.infer<typeof principalSchema>;

export const tokenViewSchema = z
  .strictObject({
    name: z.string(),
    scope: z.string(),
    project: z.string().nullable(),
    created_at: isoTime,
    created_by: z.string(),
    revoked_at: isoTimeOrNull,
    packages: z.string().nullable().optional().describe('publish tokens: the package-name prefixes it is limited to'),
  })
  .meta({ id: 'Token' });
export type TokenView = z.infer<typeof tokenViewSchema>;

export const secretViewSchema = z
  .strictObject({
    project: z.string(),
    name: z.string(),
    created_at: isoTime,
    updated_at: isoTime,
    key_id: z.string().describe('fingerprint of the key that sealed it (not the key)'),
  })
  .meta({ id: 'Secret' });
export type SecretView = z.infer<typeof secretViewSchema>;

const projectName = z.strictObject({ project: pathName, name: pathName.describe('an environment-variable-like name, e.g. DB_PASSWORD') });

export const accessRoutes = {
  whoami: route({
    method: 'get',
    path: '/api/v1/whoami',
    summary: "The caller's token name, scope and project",
    query: z.strictObject({}),
    responses: { 200: { description: 'the caller', schema: principalSchema } },
  }),
  listTokens: route({
    method: 'get',
    path: '/api/v1/tokens',
    summary: 'Live tokens (never the token itself); a project-limited caller sees its project only',
    query: z.strictObject({}),
    responses: { 200: { description: 'tokens', schema: z.strictObject({ tokens: z.array(tokenViewSchema) }) } },
  }),
  createToken: route({
    method: 'post',
    path: '/api/v1/tokens',
    summary: 'Create a token; the answer holds `token`, shown only this once',
    body: z.strictObject({ name: name.describe("the token's name"), scope: z.string().max(20).describe('read, run, deploy, admin, worker or publish'), project: name.nullable().optional(), packages: z.string().max(1000).nullable().optional().describe('publish tokens: comma-separated package-name prefixes the token may upload and yank') }),
    responses: { 201: { description: 'the token', schema: tokenViewSchema.extend({ token: z.string(), first: z.boolean().describe('no token was stored before this one'), auth_turned_on: z.boolean().describe('until now the server asked for no token; from now on every request needs one') }) } },
    errors: { 409: 'a live token has this name' },
  }),
  revokeToken: route({
    method: 'delete',
    path: '/api/v1/tokens/:name',
    summary: 'Revoke a token',
    params: z.strictObject({ name: pathName }),
    body: z.strictObject({}),
    responses: { 200: { description: 'the revoked token', schema: tokenViewSchema } },
  }),
  listSecrets: route({
    method: 'get',
    path: '/api/v1/secrets',
    summary: 'Secret names (never values), by project',
    query: z.strictObject({ project: name.optional() }),
    responses: { 200: { description: 'secrets', schema: z.strictObject({ secrets: z.array(secretViewSchema) }) } },
  }),
  setSecret: route({
    method: 'put',
    path: '/api/v1/secrets/:project/:name',
    summary: 'Set a secret (create or replace); the value is sealed with AES-256-GCM before it is stored',
    params: projectName,
    body: z.strictObject({ value: z.string().max(64 * 1024).describe('at least 4 characters, at most 64 KiB') }),
    responses: { 201: { description: 'created', schema: secretViewSchema }, 200: { description: 'replaced', schema: secretViewSchema } },
  }),
  deleteSecret: route({
    method: 'delete',
    path: '/api/v1/secrets/:project/:name',
    summary: 'Delete a secret',
    params: projectName,
    body: z.strictObject({}),
    responses: { 200: { description: 'deleted', schema: z.strictObject({ deleted: z.literal(true), project: z.string(), name: z.string() }) } },
  }),
} as const;
