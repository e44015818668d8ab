/**
 * Tokens over HTTP (scope admin). A token limited to a project can only make, list and revoke tokens of
 * its own project, and never a broader scope than its own.
 */
import type { Context, Hono } from 'hono';
import type { Engine } from '../control/engine.js';
import { createToken, listTokens, revokeToken, tokensExist, tokenView } from '../control/tokens.js';
import { KairosError } from '../model/errors.js';
import { LOCAL, principalOf } from './auth.js';

export function registerTokenRoutes(app: Hono, engine: Engine, readBody: (c: Context) => Promise<Record<string, unknown>>): void {
  app.get('/api/v1/tokens', async (c) => c.json({ tokens: (await listTokens(engine.db, principalOf(c).project)).map(tokenView) }));

  app.post('/api/v1/tokens', async (c) => {
    const b = await readBody(c);
    const me = principalOf(c);
    if (typeof b.name !== 'string') throw new KairosError('invalid_input', 'field "name" (the token\'s name) is required');
    if (typeof b.scope !== 'string') throw new KairosError('invalid_input', 'field "scope" (read, run, deploy, admin or worker) is required');
    if (b.project !== undefined && b.project !== null && typeof b.project !== 'string') throw new KairosError('invalid_input', 'field "project" must be a project name');
    let project = (b.project as string | null | undefined) ?? null;
    if (me.project !== null) {
      if (project !== null && project !== me.project) throw new KairosError('forbidden', `token "${me.name}" is limited to project ${me.project}; it can only make tokens for that project`);
      project = me.project;
    }
    const first = !(await tokensExist(engine.db));
    const { row, token } = await createToken(engine.db, { name: b.name, scope: b.scope, project, createdBy: me.name });
    // `first`: no token was stored before this one. `auth_turned_on`: until now this server asked for no
    // token at all (no bootstrap token either), and from now on every request needs one.
    return c.json({ ...tokenView(row), token, first, auth_turned_on: first && me.name === LOCAL.name }, 201);
  });

  app.delete('/api/v1/tokens/:name', async (c) => c.json(tokenView(await revokeToken(engine.db, c.req.param('name'), principalOf(c).project))));
}
