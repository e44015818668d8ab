/**
 * Secrets over HTTP. Values go in (PUT) and never come out: listings carry names and times only, and no
 * error message quotes a value.
 */
import type { Hono } from 'hono';
import type { Engine } from '../control/engine.js';
import { deleteSecret, listSecrets, setSecret } from '../control/secrets.js';
import { KairosError } from '../model/errors.js';
import { listingProject, sees } from './auth.js';
import { API } from './contract/index.js';
import { input } from './input.js';

export function registerSecretRoutes(app: Hono, engine: Engine): void {
  const A = API.access;
  app.get(A.listSecrets.path, async (c) => {
    // A token limited to a project lists that project's secrets only.
    const project = listingProject(c, (await input(c, A.listSecrets)).query.project);
    if (project === false) return c.json({ secrets: [] });
    return c.json({ secrets: await listSecrets(engine.ctx, project) });
  });

  app.put(A.setSecret.path, async (c) => {
    const { params, body } = await input(c, A.setSecret);
    if (!sees(c, params.project)) throw new KairosError('forbidden', `this token may not set secrets of project "${params.project}"`);
    const { secret, created } = await setSecret(engine.ctx, params.project, params.name, body.value);
    return c.json(secret, created ? 201 : 200);
  });

  app.delete(A.deleteSecret.path, async (c) => {
    const { params } = await input(c, A.deleteSecret);
    // Another project's secret answers as one that does not exist.
    if (!sees(c, params.project)) throw new KairosError('not_found', `secret ${params.name} is not set in project ${params.project}`);
    await deleteSecret(engine.ctx, params.project, params.name);
    return c.json({ deleted: true as const, project: params.project, name: params.name });
  });
}
