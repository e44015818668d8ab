/**
 * Secrets over HTTP. Values go in (PUT) and never come out: listings carry names and times only, and no
 * error message quotes a value.
 */
import type { Context, Hono } from 'hono';
import type { Engine } from '../control/engine.js';
import { deleteSecret, listSecrets, setSecret } from '../control/secrets.js';
import { KairosError } from '../model/errors.js';
import { listingProject, sees } from './auth.js';

type Body = Record<string, unknown>;

export function registerSecretRoutes(app: Hono, engine: Engine, readBody: (c: Context) => Promise<Body>): void {
  app.get('/api/v1/secrets', async (c) => {
    // A token limited to a project lists that project's secrets only.
    const project = listingProject(c, c.req.query('project') || undefined);
    if (project === false) return c.json({ secrets: [] });
    return c.json({ secrets: await listSecrets(engine.ctx, project) });
  });

  app.put('/api/v1/secrets/:project/:name', async (c) => {
    if (!sees(c, c.req.param('project'))) throw new KairosError('forbidden', `this token may not set secrets of project "${c.req.param('project')}"`);
    const body = await readBody(c);
    const { secret, created } = await setSecret(engine.ctx, c.req.param('project'), c.req.param('name'), body.value);
    return c.json(secret, created ? 201 : 200);
  });

  app.delete('/api/v1/secrets/:project/:name', async (c) => {
    // Another project's secret answers as one that does not exist.
    if (!sees(c, c.req.param('project'))) throw new KairosError('not_found', `secret ${c.req.param("name")} is not set in project ${c.req.param("project")}`);
    await deleteSecret(engine.ctx, c.req.param('project'), c.req.param('name'));
    return c.json({ deleted: true, project: c.req.param('project'), name: c.req.param('name') });
  });
}
