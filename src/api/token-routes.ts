/**
 * Tokens over HTTP (scope admin). A token limited to a project can only make, list and revoke tokens of
 * its own project, and never a broader scope than its own.
 */
import type { Hono } from 'hono';
import type { Engine } from '../control/engine.js';
import { createToken, listTokens, revokeToken, tokensExist, tokenView } from '../control/tokens.js';
import { KairosError } from '../model/errors.js';
import { LOCAL, principalOf } from './auth.js';
import { API } from './contract/index.js';
import { input } from './input.js';

export function registerTokenRoutes(app: Hono, engine: Engine): void {
  const A = API.access;
  app.get(A.listTokens.path, async (c) => {
    await input(c, A.listTokens);
    return c.json({ tokens: (await listTokens(engine.db, principalOf(c).project)).map(tokenView) });
  });

  app.post(A.createToken.path, async (c) => {
    const { body: b } = await input(c, A.createToken);
    const me = principalOf(c);
    let project = b.project ?? null;
    if (me.project !== null) {
      if (project !== null && project !== me.project) throw new KairosError('forbidden', `token "${me.name}" is limited to project ${me.project}; it can only make tokens for that project`);
      project = me.project;
    }
    const first = !(await tokensExist(engine.db));
    const { row, token } = await createToken(engine.db, { name: b.name, scope: b.scope, project, packages: b.packages ?? null, createdBy: me.name });
    // `first`: no token was stored before this one. `auth_turned_on`: until now this server asked for no
    // token at all (no bootstrap token either), and from now on every request needs one.
    return c.json({ ...tokenView(row), token, first, auth_turned_on: first && me.name === LOCAL.name }, 201);
  });

  app.delete(A.revokeToken.path, async (c) => {
    const { params } = await input(c, A.revokeToken);
    return c.json(tokenView(await revokeToken(engine.db, params.name, principalOf(c).project)));
  });
}
