/**
 * The worker protocol over HTTP: what `kairos worker` on another machine calls. The same operations the
 * in-process worker calls on the engine (src/protocol/worker.ts), as JSON; a stale lease is 409
 * `stale_lease`. Every body is parsed through the protocol's schemas (a malformed one is a 400). Claims long-poll: a run queued for an idle worker is handed over at once, not at its next poll.
 */
import type { Hono } from 'hono';
import { stream } from 'hono/streaming';
import type { Engine } from '../control/engine.js';
import { streamBundle } from '../bundle/stream.js';
import { API } from './contract/index.js';
import { input } from './input.js';

export function registerWorkerRoutes(app: Hono, engine: Engine): void {
  const W = API.workers;
  app.post(W.register.path, async (c) => {
    const { body } = await input(c, W.register);
    await engine.registerWorker(body);
    return c.json({ ok: true as const, lease_ms: engine.ctx.settings.leaseMs });
  });

  // The list of workers (GET /api/v1/workers) is a read route: src/api/dashboard-routes.ts.

  app.post(W.recover.path, async (c) => c.json({ attempts: await engine.recoverWorker((await input(c, W.recover)).params.id) }));

  app.post(W.claim.path, async (c) => {
    const { params, body } = await input(c, W.claim);
    const deadline = Date.now() + (body.wait_ms ?? 0);
    const abort = new AbortController();
    c.req.raw.signal?.addEventListener('abort', () => abort.abort());
    let since = engine.currentWorkVersion;
    for (;;) {
      const assignments = await engine.claim(params.id, body.pools, body.max);
      if (assignments.length > 0 || Date.now() >= deadline || abort.signal.aborted) return c.json({ assignments });
      since = await engine.waitForWork(body.pools, since, deadline - Date.now(), abort.signal);
    }
  });

  app.post(W.heartbeat.path, async (c) => {
    const { params, body } = await input(c, W.heartbeat);
    return c.json(await engine.heartbeat(params.id, body.leases));
  });

  app.post(W.stop.path, async (c) => {
    await engine.unregisterWorker((await input(c, W.stop)).params.id);
    return c.json({ ok: true as const });
  });

  app.post(W.started.path, async (c) => {
    const { body } = await input(c, W.started);
    await engine.started(body.lease, body.info);
    return c.json({ ok: true as const });
  });

  app.post(W.logs.path, async (c) => {
    const { body } = await input(c, W.logs);
    await engine.appendLogs(body.lease, body.lines);
    return c.json({ ok: true as const });
  });

  app.post(W.logsMany.path, async (c) => c.json(await engine.appendLogsMany((await input(c, W.logsMany)).body.items)));

  app.post(W.finish.path, async (c) => {
    const { body } = await input(c, W.finish);
    return c.json({ assignments: await engine.finish(body.lease, body.result, body.next) });
  });

  app.post(W.abandon.path, async (c) => {
    const { body } = await input(c, W.abandon);
    await engine.abandon(body.lease, body.reason ?? 'given up by the worker', body.reason_code);
    return c.json({ ok: true as const });
  });

  app.get(W.bundle.path, async (c) => {
    const { hash } = (await input(c, W.bundle)).params;
    const it = streamBundle(engine.ctx.settings.dataDir, hash);
    const first = await it.next(); // a missing bundle fails here, before the response starts
    c.header('content-type', 'application/x-kairos-bundle');
    return stream(c, async (s) => {
      if (!first.done) await s.write(first.value);
      for await (const chunk of it) await s.write(chunk);
    });
  });
}
