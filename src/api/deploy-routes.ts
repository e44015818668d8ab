/**
 * Deploying over HTTP: `POST /api/v1/deployments` takes a bundle stream (the format of bundle-stream.ts) and
 * activates it as a new version; the active version's manifest (for `kairos deploy --plan`); re-activating
 * an older version (`kairos rollback`). Project-limited tokens see and act on their own project only.
 */
import type { IncomingMessage } from 'node:http';
import type { Context, Hono } from 'hono';
import type { Engine } from '../control/engine.js';
import type { BundleLimits } from '../bundle/stream.js';
import { activateVersion, activeDeployment } from '../control/deployments.js';
import { deployUpload, limitsFromEnv } from '../control/upload.js';
import { KairosError } from '../model/errors.js';
import { principalOf, sees } from './auth.js';
import { deploymentView } from './views.js';
import { API } from './contract/index.js';
import { input } from './input.js';
import { readCompiledManifest } from '../manifest/upgrade.js';

export type UploadLimits = BundleLimits;

async function* requestBody(c: Context): AsyncGenerator<Buffer> {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  if (incoming) {
    for await (const chunk of incoming as AsyncIterable<Buffer>) yield chunk;
    return;
  }
  const body = c.req.raw.body;
  if (!body) return;
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) yield Buffer.from(chunk);
}

export function registerDeployRoutes(app: Hono, engine: Engine, limits?: UploadLimits): void {
  const bundleLimits = limits ?? limitsFromEnv(process.env);

  const D = API.deployments;
  app.post(D.upload.path, async (c) => {
    const { query } = await input(c, D.upload);
    const me = principalOf(c);
    const { commit, dirty } = query;
    const source = query.source ?? 'upload';
    const outcome = await deployUpload(engine.ctx, requestBody(c), {
      hash: query.hash,
      limits: bundleLimits,
      source,
      meta: { deployedBy: me.name, gitCommit: commit ?? null, gitDirty: dirty === undefined ? null : dirty === '1' || dirty === 'true' },
      authorize: (project) => {
        if (me.project !== null && me.project !== project) throw new KairosError('forbidden', `token "${me.name}" is limited to project ${me.project}; this bundle is project ${project}`);
      },
    });
    if (outcome.created) engine.bus.emit('work');
    return c.json({ ...deploymentView(outcome.deployment), created: outcome.created }, outcome.created ? 201 : 200);
  });

  app.get(D.active.path, async (c) => {
    const { project } = (await input(c, D.active)).params;
    const dep = sees(c, project) ? await activeDeployment(engine.db.kysely, project) : undefined;
    if (!dep) throw new KairosError('not_found', `project "${project}" has no active deployment`);
    return c.json({ ...deploymentView(dep), manifest: readCompiledManifest(dep.manifest_json) });
  });

  app.post(D.activate.path, async (c) => {
    const { project, version } = (await input(c, D.activate)).params;
    if (!sees(c, project)) throw new KairosError('not_found', `project "${project}" has no version ${version}`);
    const row = await activateVersion(engine.ctx, project, version);
    return c.json(deploymentView(row));
  });
}
