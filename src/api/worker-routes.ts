/**
 * The worker protocol over HTTP: what `kairos worker` on another machine calls. The same operations the
 * in-process worker calls on the engine (src/worker/protocol.ts), as JSON; a stale lease is 409
 * `stale_lease`. Claims long-poll: a run queued for an idle worker is handed over at once, not at its next poll.
 */
import type { Hono, Context } from 'hono';
import { stream } from 'hono/streaming';
import type { Engine } from '../control/engine.js';
import { streamBundle } from '../control/bundle-stream.js';
import { KairosError } from '../model/errors.js';
import type { AttemptResult, LeaseRef, LogLine, StartedInfo, WorkerInfo } from '../worker/protocol.js';

type Body = Record<string, unknown>;

function isLease(v: unknown): v is LeaseRef {
  const l = v as LeaseRef | null;
  return typeof l === 'object' && l !== null && typeof l.runId === 'string' && Number.isInteger(l.attempt) && typeof l.token === 'string';
}

function lease(b: Body): LeaseRef {
  if (!isLease(b.lease)) throw new KairosError('invalid_input', 'field "lease" must be {runId, attempt, token}');
  return b.lease;
}

function pools(v: unknown): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((p) => typeof p === 'string')) throw new KairosError('invalid_input', 'field "pools" must be a non-empty list of pool names');
  return v as string[];
}

function int(v: unknown, name: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new KairosError('invalid_input', `field "${name}" must be an integer from ${min} to ${max}`);
  return v;
}

export function registerWorkerRoutes(app: Hono, engine: Engine, readBody: (c: Context) => Promise<Body>): void {
  app.post('/api/v1/workers', async (c) => {
    const b = await readBody(c);
    const info = b as unknown as WorkerInfo;
    if (typeof info.id !== 'string' || !/^[A-Za-z0-9@._:-]{1,80}$/.test(info.id)) throw new KairosError('invalid_input', 'field "id" must be 1-80 characters of letters, digits, @ . _ : -');
    await engine.registerWorker({ id: info.id, host: String(info.host ?? ''), pools: pools(info.pools), capacity: int(info.capacity, 'capacity', 1, 10_000), version: String(info.version ?? '') });
    return c.json({ ok: true, lease_ms: engine.ctx.settings.leaseMs });
  });

  // The list of workers (GET /api/v1/workers) is a read route: src/api/dashboard-routes.ts.

  app.post('/api/v1/workers/:id/recover', async (c) => c.json({ attempts: await engine.recoverWorker(c.req.param('id')) }));

  app.post('/api/v1/workers/:id/claim', async (c) => {
    const b = await readBody(c);
    const id = c.req.param('id');
    const ps = pools(b.pools);
    const max = int(b.max, 'max', 1, 10_000);
    const waitMs = b.wait_ms === undefined ? 0 : int(b.wait_ms, 'wait_ms', 0, 60_000);
    const deadline = Date.now() + waitMs;
    const abort = new AbortController();
    c.req.raw.signal?.addEventListener('abort', () => abort.abort());
    let since = engine.currentWorkVersion;
    for (;;) {
      const assignments = await engine.claim(id, ps, max);
      if (assignments.length > 0 || Date.now() >= deadline || abort.signal.aborted) return c.json({ assignments });
      since = await engine.waitForWork(ps, since, deadline - Date.now(), abort.signal);
    }
  });

  app.post('/api/v1/workers/:id/heartbeat', async (c) => {
    const b = await readBody(c);
    if (!Array.isArray(b.leases) || !b.leases.every(isLease)) throw new KairosError('invalid_input', 'field "leases" must be a list of leases');
    return c.json(await engine.heartbeat(c.req.param('id'), b.leases));
  });

  app.post('/api/v1/workers/:id/stop', async (c) => {
    await engine.unregisterWorker(c.req.param('id'));
    return c.json({ ok: true });
  });

  app.post('/api/v1/leases/started', async (c) => {
    const b = await readBody(c);
    await engine.started(lease(b), b.info as StartedInfo);
    return c.json({ ok: true });
  });

  app.post('/api/v1/leases/logs', async (c) => {
    const b = await readBody(c);
    if (!Array.isArray(b.lines)) throw new KairosError('invalid_input', 'field "lines" must be a list');
    await engine.appendLogs(lease(b), b.lines as LogLine[]);
    return c.json({ ok: true });
  });

  app.post('/api/v1/leases/logs-many', async (c) => {
    const b = await readBody(c);
    const items = b.items as { lease: unknown; lines: unknown }[] | undefined;
    if (!Array.isArray(items) || !items.every((i) => isLease(i?.lease) && Array.isArray(i.lines))) throw new KairosError('invalid_input', 'field "items" must be a list of {lease, lines}');
    return c.json(await engine.appendLogsMany(items as { lease: LeaseRef; lines: LogLine[] }[]));
  });

  app.post('/api/v1/leases/finish', async (c) => {
    const b = await readBody(c);
    const next = b.next as { workerId: string; pools: string[]; max: number } | undefined;
    const assignments = await engine.finish(lease(b), b.result as AttemptResult, next ? { workerId: String(next.workerId), pools: pools(next.pools), max: int(next.max, 'next.max', 1, 10_000) } : undefined);
    return c.json({ assignments });
  });

  app.post('/api/v1/leases/abandon', async (c) => {
    const b = await readBody(c);
    await engine.abandon(lease(b), String(b.reason ?? 'given up by the worker'), b.reason_code);
    return c.json({ ok: true });
  });

  app.get('/api/v1/bundles/:hash', async (c) => {
    const hash = c.req.param('hash');
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new KairosError('invalid_input', 'not a bundle hash');
    const it = streamBundle(engine.ctx.settings.dataDir, hash);
    const first = await it.next(); // a missing bundle fails here, before the response starts
    c.header('content-type', 'application/x-kairos-bundle');
    return stream(c, async (s) => {
      if (!first.done) await s.write(first.value);
      for await (const chunk of it) await s.write(chunk);
    });
  });
}
