/**
 * Kairos on one machine: the API, the scheduler, a local worker and SQLite in one process, deploying a
 * project directory at start and on every change. `kairos up` is a thin shell around this; tests and the
 * benchmark start it in-process.
 */
import type { RetentionSettings } from './control/retention.js';
import { createHash, randomBytes } from 'node:crypto';
import { cpus, hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { createApi } from './api/server.js';
import { listen, type Listening } from './api/http.js';
import { ServiceRelay } from './api/services.js';
import { Engine } from './control/engine.js';
import { tokensExist } from './control/tokens.js';
import { deliverySettings, type AlertOptions } from './control/webhooks.js';
import { activeDeployment } from './control/deployments.js';
import { watchProject, type ProjectWatcher } from './control/watch.js';
import { formatProblem, loadManifestFile, type ManifestProblem } from './manifest/index.js';
import { coerceError } from './model/errors.js';
import { openSqlite, type Clock } from './store/db.js';
import { VERSION } from './version.js';
import { Worker } from './worker/worker.js';
import type { SandboxOptions } from './worker/places/sandbox.js';

/** Files editors write beside the one being saved (vim's swap and its 4913 probe, emacs' locks and backups). */
const EDITOR_SCRATCH = /^(?:\.#.*|.*~|.*\.sw[a-px]|4913|#.*#)$/;

/** Changes are deployed once the project has been quiet this long (an editor's save is several writes). */
const QUIET_MS = 300;

export interface EmbeddedOptions {
  readonly projectDir: string;
  readonly dataDir?: string;
  readonly host?: string;
  readonly port?: number;
  readonly token?: string | null;
  readonly concurrency?: number;
  readonly leaseMs?: number;
  /** Per-run log cap in lines (default 50 million); past it, one truncation marker and nothing more. */
  readonly maxLogLines?: number;
  /** Per-run log cap in bytes (default 2 GiB). */
  readonly maxLogBytes?: number;
  readonly watch?: boolean;
  readonly clock?: Clock;
  readonly log?: (line: string) => void;
  /** Alert delivery: links' base URL, internal webhook hosts allowed, retry delay. */
  readonly alerts?: AlertOptions;
  /**
   * Redeploy even when the project's active version came from elsewhere (`kairos deploy`, the API). Without
   * it, `up` leaves such a version active and says so once.
   */
  readonly takeOver?: boolean;
  /** How the local worker sandboxes jobs (default `auto`; docs/isolation.md). */
  readonly sandbox?: SandboxOptions;
  /** Server-wide retention defaults (`--retention-runs`, `--retention-days`; docs/snapshots.md). */
  readonly retention?: Partial<RetentionSettings>;
  /** One line per request to the package index (default: stderr when KAIROS_PACKAGE_LOG is set). */
  readonly indexLog?: (line: string) => void;
  /** The team's container registry (`--registry`; docs/containers.md). */
  readonly registry?: string | null;
}

/** A version `up` would have replaced, and did not: it came from `kairos deploy` (or the API), not from `up`. */
export interface DeployConflict {
  readonly project: string;
  readonly version: number;
  readonly source: string;
  readonly deployedBy: string | null;
}

export type DeployReport =
  | { readonly ok: true; readonly version: number; readonly created: boolean; readonly project: string }
  | { readonly ok: false; readonly problems: readonly ManifestProblem[]; readonly conflict?: DeployConflict };

/** `source` of a version `kairos up` deployed. Older versions recorded `host:dir` alone; they count as `up`'s too. */
export function upSource(projectDir: string): string {
  return `up:${hostname()}:${projectDir}`;
}

function fromUp(source: string, projectDir: string): boolean {
  return source.startsWith('up:') || source === `${hostname()}:${projectDir}`;
}

/** Says why `up` left a version active: once per version, in one line a user can act on. */
export function conflictMessage(c: DeployConflict): string {
  const who = c.deployedBy ? ` by ${c.deployedBy}` : '';
  const from = c.source.startsWith('deploy:') ? `\`kairos deploy\` (${c.source.slice('deploy:'.length)})` : `an upload (${c.source})`;
  return `kairos: project ${c.project} v${c.version} was deployed${who} from ${from}, not by this \`kairos up\`; it stays active and changes here are not deployed. Restart with --take-over to deploy this directory over it.`;
}

export interface Embedded {
  readonly url: string;
  readonly engine: Engine;
  /** The local worker; null with `concurrency: 0` (remote workers run everything). */
  readonly worker: Worker | null;
  readonly dataDir: string;
  /** Deploys the project directory now (what the watcher does on a change). */
  redeploy(): Promise<DeployReport>;
  /** Stops taking work, lets running attempts finish within `graceMs`, then closes everything. */
  stop(graceMs?: number): Promise<void>;
}

export async function startEmbedded(opts: EmbeddedOptions): Promise<Embedded> {
  const projectDir = resolve(opts.projectDir);
  const dataDir = resolve(opts.dataDir ?? join(projectDir, '.kairos'));
  const log = opts.log ?? ((line: string) => process.stderr.write(line + '\n'));
  const leaseMs = opts.leaseMs ?? 30_000;
  // A write waits for another process's lock at most a quarter lease (5 s at most), then answers `unavailable`.
  const db = await openSqlite(join(dataDir, 'kairos.db'), { clock: opts.clock, busyTimeoutMs: Math.min(5000, Math.floor(leaseMs / 4)) });
  const engine = new Engine({ db, dataDir, leaseMs, ...(opts.registry ? { registry: opts.registry } : {}), ...(opts.retention ? { retention: opts.retention } : {}), webhookAllowHosts: opts.alerts?.allowHosts ?? [], onError: (err) => log(`kairos: ${coerceError(err).message}`) });

  // One deploy at a time. A failed deploy must not end the chain: the next change deploys again.
  let deploying: Promise<unknown> = Promise.resolve();
  const redeploy = (): Promise<DeployReport> => {
    const next = deploying.catch(() => undefined).then(async (): Promise<DeployReport> => {
      const result = await loadManifestFile(projectDir);
      if (!result.ok) return { ok: false, problems: result.problems };
      if (opts.takeOver !== true) {
        const active = await activeDeployment(db.kysely, result.manifest.project);
        if (active && !fromUp(active.source, projectDir)) {
          return { ok: false, problems: [], conflict: { project: active.project, version: active.version, source: active.source, deployedBy: active.deployed_by ?? null } };
        }
      }
      const outcome = await engine.deploy(projectDir, result.manifest, upSource(projectDir));
      return { ok: true, version: outcome.deployment.version, created: outcome.created, project: outcome.deployment.project };
    });
    deploying = next;
    return next;
  };
  // A conflict is said once per version that caused it.
  const saidConflict = new Set<string>();
  const sayConflict = (c: DeployConflict) => {
    const key = `${c.project}@${c.version}`;
    if (saidConflict.has(key)) return;
    saidConflict.add(key);
    log(conflictMessage(c));
  };

  let first: DeployReport;
  try {
    first = await redeploy();
  } catch (err) {
    // E.g. a webhook the server refuses: nothing started, nothing stays open.
    await db.close();
    throw err;
  }
  if (!first.ok && first.conflict) {
    sayConflict(first.conflict);
  } else if (!first.ok) {
    const active = await db.kysely.selectFrom('deployments').select(['project', 'version']).where('active', '=', 1).execute();
    if (active.length === 0) {
      await db.close();
      const err = new Error(first.problems.map(formatProblem).join('\n')) as Error & { problems?: readonly ManifestProblem[] };
      err.problems = first.problems;
      throw err;
    }
    for (const p of first.problems) log(formatProblem(p));
    log(`kairos: the manifest is invalid; keeping ${active.map((a) => `${a.project} v${a.version}`).join(', ')} active`);
  } else {
    log(`kairos: project ${first.project} deployment v${first.version}${first.created ? ' activated' : ' (unchanged)'}`);
  }

  const pools = new Set(['default']);
  const deps = await db.kysely.selectFrom('deployments').select('id').where('active', '=', 1).execute();
  for (const d of deps) for (const name of Object.keys((await engine.ctx.manifestOf(d.id)).pools)) pools.add(name);

  const worker = opts.concurrency === 0 ? null : new Worker(engine, {
    // One per machine and data directory: two `kairos up` on one machine never mistake each other's jobs.
    id: `local@${hostname()}:${createHash('sha256').update(dataDir).digest('hex').slice(0, 8)}`,
    pools: [...pools],
    capacity: opts.concurrency ?? Math.max(4, cpus().length * 2),
    dataDir,
    version: VERSION,
    leaseMs,
    ...(opts.maxLogLines !== undefined ? { maxLogLines: opts.maxLogLines } : {}),
    ...(opts.maxLogBytes !== undefined ? { maxLogBytes: opts.maxLogBytes } : {}),
    onError: (err) => log(`kairos worker: ${coerceError(err).message}`),
    ...(opts.sandbox ? { sandbox: opts.sandbox } : {}),
    onNotice: (message) => log(`kairos worker: ${message}`),
  });
  await worker?.start();
  engine.start();

  // The local worker reads the server's package index with a token of its own that is never stored.
  const indexToken = 'kairos_local_' + randomBytes(24).toString('base64url');
  // …and opens its services' tunnels with another (docs/services.md).
  const relayToken = 'kairos_local_' + randomBytes(24).toString('base64url');
  const relay = new ServiceRelay({ engine, bootstrapToken: opts.token ?? null, internalTokens: [relayToken] });
  const app = createApi({ engine, token: opts.token ?? null, indexTokens: [indexToken], relay, ...(opts.indexLog ? { indexLog: opts.indexLog } : {}) });
  let server: Listening;
  try {
    server = await listen(app, opts.host ?? '127.0.0.1', opts.port ?? 7070, Boolean(opts.token) || (await tokensExist(db)), relay);
  } catch (err) {
    relay.close();
    await engine.stopLoops();
    await worker?.stop(0);
    await db.close();
    throw err;
  }

  worker?.setPackageIndex({ url: `${server.url}/simple/`, token: indexToken });
  worker?.setServiceRelay({ url: server.url, token: relayToken });
  engine.startAlertDelivery(deliverySettings(opts.alerts ?? {}, server.url));

  let watcher: ProjectWatcher | null = null;
  if (opts.watch !== false) {
    let timer: NodeJS.Timeout | null = null;
    watcher = watchProject(
      projectDir,
      [dataDir],
      (rel) => {
        // An editor's swap, lock or backup file is not a change to deploy (nor part of a bundle).
        if (EDITOR_SCRATCH.test(rel.slice(rel.lastIndexOf('/') + 1))) return;
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => {
          redeploy()
            .then((r) => {
              if (!r.ok && r.conflict) {
                sayConflict(r.conflict);
              } else if (!r.ok) {
                for (const p of r.problems) log(formatProblem(p));
                log('kairos: the manifest is invalid; the last good deployment stays active');
              } else if (r.created) {
                log(`kairos: project ${r.project} deployment v${r.version} activated`);
              }
            })
            .catch((err: unknown) => log(`kairos: deploy failed: ${coerceError(err).message}`));
        }, QUIET_MS);
      },
      (err) => log(`kairos: watching ${projectDir}: ${err.message}`),
    );
  }

  let stopped: Promise<void> | null = null;
  return {
    url: server.url,
    engine,
    worker,
    dataDir,
    redeploy,
    stop(graceMs = 30_000) {
      stopped ??= (async () => {
        watcher?.close();
        await engine.stopLoops();
        await worker?.stop(graceMs);
        await server.close();
        await engine.stopAlertDelivery();
        await deploying.catch(() => undefined);
        await db.close();
      })();
      return stopped;
    },
  };
}
