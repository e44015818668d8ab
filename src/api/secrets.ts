/**
 * Secrets over HTTP. Values go in (PUT) and never come out: listings carry names and times only, and no
 * error message quotes a value.
 */
import type { Context, Hono } from 'hono';
import type { Engine } from '../control/engine.js';
import { deleteSecret, listSecrets, setSecret } from '../control/secrets.js';

type Body = Record<string, unknown>;

export function registerSecretRoutes(app: Hono, engine: Engine, readBody: (c: Context) => Promise<Body>): void {
  app.get('/api/v1/secrets', async (c) => {
    const project = c.req.query('project');
    return c.json({ secrets: await listSecrets(engine.ctx, project === '' ? undefined : project) });
  });

  app.put('/api/v1/secrets/:project/:name', async (c) => {
    const body = await readBody(c);
    const { secret, created } = await setSecret(engine.ctx, c.req.param('project'), c.req.param('name'), body.value);
    return c.json(secret, created ? 201 : 200);
  });

  app.delete('/api/v1/secrets/:project/:name', async (c) => {
    await deleteSecret(engine.ctx, c.req.param('project'), c.req.param('name'));
    return c.json({ deleted: true, project: c.req.param('project'), name: c.req.param('name') });
  });
}
