/** Running services (docs/services.md): the list, and a browser's one-time ticket to one of them. */
import { z } from 'zod';
import { pathName, route } from './common.js';

export const serviceViewSchema = z
  .strictObject({
    project: z.string(),
    job: z.string(),
    run_id: z.string(),
    attempt: z.number().int(),
    worker_id: z.string(),
    state: z.enum(['starting', 'up']).describe('up once the service answers its health check'),
    path: z.string().describe('/services/<project>/<job>/ on this server'),
    connected_at: z.string(),
    up_at: z.string().nullable(),
    last_used_at: z.string().nullable(),
  })
  .meta({ id: 'Service' });
export type ServiceViewBody = z.infer<typeof serviceViewSchema>;

export const serviceRoutes = {
  list: route({
    method: 'get',
    path: '/api/v1/services',
    summary: 'Running services, each reachable at its path on this server',
    query: z.strictObject({ project: z.string().max(100).optional() }),
    responses: { 200: { description: 'services', schema: z.strictObject({ services: z.array(serviceViewSchema) }) } },
  }),
  session: route({
    method: 'post',
    path: '/api/v1/services/:project/:job/session',
    summary: "A one-time link (60 s) that opens the service in a browser: it sets a cookie for the service's path alone",
    params: z.strictObject({ project: pathName, job: pathName }),
    body: z.strictObject({}),
    responses: { 201: { description: 'the link', schema: z.strictObject({ path: z.string(), expires_in_s: z.number().int() }) } },
  }),
} as const;
