import { join, resolve } from 'node:path';
import { createApi } from '../api/server.js';
import { ServiceRelay } from '../api/services.js';
import { listen } from '../api/http.js';
import { Engine } from '../control/engine.js';
import { isPostgresUrl, openDb, redactUrl } from '../store/db.js';
import { tokensExist } from '../control/tokens.js';
import { coerceError } from '../model/errors.js';
import { tzdataVersion } from '../model/cron/index.js';
import { intOption, stringOption } from './args.js';
import type { Command } from './command.js';
import { registryOption } from './registry-option.js';
import { EXIT, UsageError } from './output.js';
import { leaseOption } from './up.js';
import { ALERT_OPTIONS, ALERT_USAGE, alertOptions } from './alert-options.js';
import { deliverySettings } from '../control/webhooks.js';
import { scrubCredentials } from './scrub-env.js';
import { RETENTION_OPTIONS, RETENTION_USAGE, retentionOptions } from './retention-options.js';
import { openArtifactStore, type ArtifactStore } from '../artifacts/store.js';
import { DEFAULT_ARTIFACT_LIMITS } from '../artifacts/policy.js';

/** `--artifacts s3://…` with its S3 settings, or the local store under the data directory. */
export function artifactStoreOption(v: Record<string, unknown>, dataDir: string): ArtifactStore {
  const url = stringOption(v['artifacts']);
  const endpoint = stringOption(v['s3-endpoint']);
  const region = stringOption(v['s3-region']);
  const pathStyle = v['s3-path-style'] === true;
  if (!url && (endpoint || region || pathStyle)) throw new UsageError('--s3-endpoint, --s3-region and --s3-path-style go with --artifacts s3://BUCKET/PREFIX');
  if (endpoint && !/^https?:\/\/[^\s/]+(\/.*)?$/.test(endpoint)) throw new UsageError(`--s3-endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  try {
    return openArtifactStore({ dataDir, ...(url ? { url } : {}), ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}), pathStyle });
  } catch (err) {
    throw new UsageError(coerceError(err).message);
  }
}

export const serverCommand: Command = {
  name: 'server',
  summary: 'the control plane alone (API and scheduler), on SQLite or PostgreSQL',
  usage: `server [--db URL] [--host H] [--port N] [--data DIR] [--lease DURATION] [--artifacts s3://BUCKET/PREFIX [--s3-endpoint URL] [--s3-region R] [--s3-path-style]] [--artifacts-max-files N] [--artifacts-max-bytes N] [--registry [http://]HOST:PORT[/PREFIX]] ${RETENTION_USAGE} ${ALERT_USAGE}`,
  options: { db: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, data: { type: 'string' }, lease: { type: 'string' }, artifacts: { type: 'string' }, 's3-endpoint': { type: 'string' }, 's3-region': { type: 'string' }, 's3-path-style': { type: 'boolean' }, 'artifacts-max-files': { type: 'string' }, 'artifacts-max-bytes': { type: 'string' }, registry: { type: 'string' }, ...RETENTION_OPTIONS, ...ALERT_OPTIONS },
  positionals: { min: 0, max: 0 },
  async run(p, { io, env }) {
    const dataDir = resolve(stringOption(p.values.data) ?? '.kairos');
    const dbUrl = stringOption(p.values.db) ?? `sqlite:${join(dataDir, 'kairos.db')}`;
    const pg = isPostgresUrl(dbUrl);
    if (!pg && !dbUrl.startsWith('sqlite:')) throw new UsageError(`--db must be postgres://USER@HOST:PORT/DB or sqlite:PATH, got "${pg ? redactUrl(dbUrl) : dbUrl}"`);
    const alerts = alertOptions(p, env);
    const leaseMs = leaseOption(p.values.lease);
    const db = await openDb(pg ? dbUrl : `sqlite:${resolve(dbUrl.slice('sqlite:'.length))}`, { busyTimeoutMs: Math.min(5000, Math.floor((leaseMs ?? 30_000) / 4)) });
    const artifactStore = artifactStoreOption(p.values, dataDir);
    const artifactLimits = {
      maxFiles: intOption(p.values['artifacts-max-files'], 'artifacts-max-files', 0, 10_000_000) ?? DEFAULT_ARTIFACT_LIMITS.maxFiles,
      maxBytes: intOption(p.values['artifacts-max-bytes'], 'artifacts-max-bytes', 0, Number.MAX_SAFE_INTEGER) ?? DEFAULT_ARTIFACT_LIMITS.maxBytes,
    };
    const retention = retentionOptions(p);
    const registry = registryOption(p.values.registry);
    const engine = new Engine({ db, dataDir, leaseMs, retention, artifactStore, artifactLimits, registry, webhookAllowHosts: alerts.allowHosts ?? [], onError: (err) => io.err(`kairos: ${coerceError(err).message}\n`) });
    const token = p.globals.token ?? env.KAIROS_TOKEN ?? null;
    // Auth is on with a bootstrap token or with any stored token (`kairos token create --data`).
    const relay = new ServiceRelay({ engine, bootstrapToken: token });
    const server = await listen(createApi({ engine, token, relay }), stringOption(p.values.host) ?? '127.0.0.1', intOption(p.values.port, 'port', 0, 65535) ?? 7070, Boolean(token) || (await tokensExist(db)), relay);
    engine.start();
    engine.startAlertDelivery(deliverySettings(alerts, server.url));
    // The token and the key are read and the engine has loaded the key: they leave this process's environment.
    scrubCredentials();
    await artifactStore.check().catch((err: unknown) => io.err(`kairos: warning: ${coerceError(err).message}\n`));
    io.err(`kairos: server at ${server.url} (artifacts: ${artifactStore.describe}; ${pg ? `PostgreSQL ${redactUrl(dbUrl)}` : `SQLite ${dbUrl.slice(7)}`}; tz database ${tzdataVersion()})\n`);
    await new Promise<void>((r) => {
      process.once('SIGINT', () => r());
      process.once('SIGTERM', () => r());
    });
    await engine.stopLoops();
    await server.close();
    await engine.stopAlertDelivery();
    await db.close();
    return EXIT.ok;
  },
};
