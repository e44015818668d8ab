/** The package index's API (the index itself, /simple/ and /legacy/, speaks the Python packaging standards). */
import { z } from 'zod';
import { pathName, route } from './common.js';

const versionSchema = z
  .strictObject({
    version: z.string(),
    yanked: z.boolean(),
    yanked_reason: z.string().nullable(),
    files: z.array(z.strictObject({ filename: z.string(), sha256: z.string(), size: z.number().int(), uploaded_at: z.string(), uploaded_by: z.string() })),
    runs: z.array(z.strictObject({ run_id: z.string(), attempt: z.number().int() })).describe('attempts whose environment held this version (latest 100)'),
  })
  .meta({ id: 'PackageVersion' });

export const packageViewSchema = z
  .strictObject({ name: z.string(), normalized: z.string().describe('PEP 503 normalized name'), versions: z.array(versionSchema) })
  .meta({ id: 'Package' });
export type PackageView = z.infer<typeof packageViewSchema>;

const nameVersion = z.strictObject({ name: pathName, version: pathName });
const yankAnswer = z.strictObject({ name: z.string(), version: z.string(), yanked: z.boolean(), files: z.number().int() });

export const packageRoutes = {
  list: route({
    method: 'get',
    path: '/api/v1/packages',
    summary: 'Packages of the internal index, their versions and the runs that used each',
    query: z.strictObject({}),
    responses: { 200: { description: 'packages', schema: z.strictObject({ packages: z.array(packageViewSchema) }) } },
  }),
  get: route({
    method: 'get',
    path: '/api/v1/packages/:name',
    summary: 'One package (any spelling of its name)',
    params: z.strictObject({ name: pathName }),
    query: z.strictObject({}),
    responses: { 200: { description: 'the package', schema: packageViewSchema } },
  }),
  yank: route({
    method: 'post',
    path: '/api/v1/packages/:name/:version/yank',
    summary: 'Yank a version (PEP 592): unpinned installs skip it, `==` still installs it',
    params: nameVersion,
    body: z.strictObject({ reason: z.string().max(1000).optional() }),
    responses: { 200: { description: 'yanked', schema: yankAnswer } },
  }),
  unyank: route({
    method: 'post',
    path: '/api/v1/packages/:name/:version/unyank',
    summary: 'Un-yank a version',
    params: nameVersion,
    body: z.strictObject({}),
    responses: { 200: { description: 'un-yanked', schema: yankAnswer } },
  }),
  deleteVersion: route({
    method: 'delete',
    path: '/api/v1/packages/:name/:version',
    summary: "Delete a version's files; their filenames are never used again",
    params: nameVersion,
    body: z.strictObject({}),
    responses: { 200: { description: 'deleted', schema: z.strictObject({ name: z.string(), version: z.string(), deleted: z.number().int() }) } },
  }),
} as const;
