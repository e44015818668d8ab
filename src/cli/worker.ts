import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { coerceError } from '../model/errors.js';
import { VERSION } from '../version.js';
import { showMemory } from '../control/dispatch/placement.js';
import { HttpControlLink } from '../worker/http-link.js';
import { Worker } from '../worker/worker.js';
import { intOption, stringOption } from './args.js';
import type { Command } from './command.js';
import { EXIT, UsageError } from './output.js';
import { scrubCredentials } from './scrub-env.js';
import { SANDBOX_OPTIONS, SANDBOX_USAGE, sandboxOptions } from './sandbox-options.js';
import { sandboxName } from '../worker/places/sandbox.js';
import { PLACE_KIND_OPTIONS, PLACE_OPTIONS, PLACE_USAGE, placeChoice } from './place-options.js';
import { loadPlace, placeKinds } from '../worker/places/index.js';

/** Each kind of place's own options (slurm: --partition …). */
const KIND_OPTIONS = Object.assign({}, ...Object.values(PLACE_KIND_OPTIONS).map((k) => k.options)) as Record<string, never>;
const KIND_USAGE = Object.values(PLACE_KIND_OPTIONS)
  .map((k) => ` ${k.usage}`)
  .join('');

export const workerCommand: Command = {
  name: 'worker',
  summary: 'a worker on any machine that can reach the server: claims runs of its pools and runs them',
  usage: `worker [--pool NAME]... [--concurrency N] [--data DIR] [--id ID] [--grace SECONDS] ${PLACE_USAGE}${KIND_USAGE} ${SANDBOX_USAGE}`,
  options: { pool: { type: 'string', multiple: true }, concurrency: { type: 'string' }, data: { type: 'string' }, id: { type: 'string' }, grace: { type: 'string' }, ...PLACE_OPTIONS, ...KIND_OPTIONS, ...SANDBOX_OPTIONS },
  positionals: { min: 0, max: 0 },
  async run(p, { io, env }) {
    const pools = (p.values.pool as string[] | undefined) ?? ['default'];
    for (const pool of pools) if (!/^[A-Za-z][A-Za-z0-9_-]{0,62}$/.test(pool)) throw new UsageError(`--pool must be a pool name, got "${pool}"`);
    const place = placeChoice(p, placeKinds());
    // A Slurm or Kubernetes worker keeps bundles and working directories where the compute nodes (pods) see them.
    const shared = place.kind === 'slurm' || place.kind === 'kubernetes' ? (place.options as { sharedDir?: string } | undefined)?.sharedDir : undefined;
    const dataDir = resolve(stringOption(p.values.data) ?? (shared ? join(shared, 'worker', hostname()) : '.kairos-worker'));
    // Stable across restarts on the same machine and cache, so a restarted worker finds what it left behind.
    const id = stringOption(p.values.id) ?? `${hostname()}:${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`;
    const graceS = intOption(p.values.grace, 'grace', 0, 86400) ?? 30;
    const sandbox = sandboxOptions(p, env);
    const link = new HttpControlLink(p.globals.server, p.globals.token);
    // The link holds the token: it leaves this process's environment, so no job or helper can read it there.
    scrubCredentials();
    const reg = await link.health().catch((err: unknown) => {
      throw new UsageError(`cannot reach the server at ${p.globals.server}: ${coerceError(err).message}`);
    });
    await loadPlace(place.kind);
    const worker = new Worker(link, {
      id,
      pools,
      capacity: intOption(p.values.concurrency, 'concurrency', 1, 1024) ?? 4,
      dataDir,
      version: VERSION,
      leaseMs: reg.leaseMs,
      heartbeatMs: Math.min(1000, Math.floor(reg.leaseMs / 3)),
      claimWaitMs: 20_000,
      onError: (err) => io.err(`kairos worker: ${coerceError(err).message}\n`),
      sandbox,
      place,
      onNotice: (message) => io.err(`kairos worker: ${message}\n`),
      // Python environments resolve the team's internal packages from the server's index alone (docs/packages.md).
      serviceRelay: { url: p.globals.server, token: p.globals.token ?? null },
      packageIndex: env.KAIROS_PACKAGE_INDEX === 'off' ? null : { url: `${p.globals.server.replace(/\/+$/, '')}/simple/`, token: p.globals.token ?? null },
    });
    await worker.start();
    const offer = await worker.place.offer();
    const offers = `${offer.cpu} cpu, memory ${showMemory(offer.memoryBytes)}, ${offer.gpu} gpu`;
    io.err(`kairos: worker ${id} for pool${pools.length > 1 ? 's' : ''} ${pools.join(', ')} on ${p.globals.server} (place ${worker.place.kind}: ${offers}; cache ${dataDir}; ${worker.place.kind !== 'local' ? `jobs isolated by ${worker.place.kind}` : worker.sandbox ? `jobs sandboxed by ${sandboxName(worker.sandbox)}` : 'jobs not sandboxed'})\n`);
    await new Promise<void>((done) => {
      let stopping = false;
      const onSignal = () => {
        if (stopping) process.exit(130);
        stopping = true;
        io.err(`kairos: stopping: no new work; waiting up to ${graceS}s for running jobs\n`);
        void worker.stop(graceS * 1000).finally(done);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    link.close();
    return EXIT.ok;
  },
};
