import { join, resolve } from 'node:path';
import { createApi } from '../api/server.js';
import { listen } from '../api/http.js';
import { Engine } from '../control/engine.js';
import { isPostgresUrl, openDb, redactUrl } from '../store/db.js';
import { tokensExist } from '../control/tokens.js';
import { coerceError } from '../model/errors.js';
import { tzdataVersion } from '../model/cron/index.js';
import { intOption, stringOption } from './args.js';
import type { Command } from './command.js';
import { EXIT, UsageError } from './output.js';
import { leaseOption } from './up.js';
import { ALERT_OPTIONS, ALERT_USAGE, alertOptions } from './alert-options.js';
import { deliverySettings } from '../control/webhooks.js';
import { scrubCredentials } from './scrub-env.js';
import { RETENTION_OPTIONS, RETENTION_USAGE, retentionOptions } from './retention-options.js';

export const serverCommand: Command = {
  name: 'server',
  summary: 'the control plane alone (API and scheduler), on SQLite or PostgreSQL',
  usage: `server [--db URL] [--host H] [--port N] [--data DIR] [--lease DURATION] ${RETENTION_USAGE} ${ALERT_USAGE}`,
  options: { db: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, data: { type: 'string' }, lease: { type: 'string' }, ...RETENTION_OPTIONS, ...ALERT_OPTIONS },
  positionals: { min: 0, max: 0 },
  async run(p, { io, env }) {
    const dataDir = resolve(stringOption(p.values.data) ?? '.kairos');
    const dbUrl = stringOption(p.values.db) ?? `sqlite:${join(dataDir, 'kairos.db')}`;
    const pg = isPostgresUrl(dbUrl);
    if (!pg && !dbUrl.startsWith('sqlite:')) throw new UsageError(`--db must be postgres://USER@HOST:PORT/DB or sqlite:PATH, got "${pg ? redactUrl(dbUrl) : dbUrl}"`);
    const alerts = alertOptions(p, env);
    const leaseMs = leaseOption(p.values.lease);
    const db = await openDb(pg ? dbUrl : `sqlite:${resolve(dbUrl.slice('sqlite:'.length))}`, { busyTimeoutMs: Math.min(5000, Math.floor((leaseMs ?? 30_000) / 4)) });
    const retention = retentionOptions(p);
    const engine = new Engine({ db, dataDir, leaseMs, retention, webhookAllowHosts: alerts.allowHosts ?? [], onError: (err) => io.err(`kairos: ${coerceError(err).message}\n`) });
    const token = p.globals.token ?? env.KAIROS_TOKEN ?? null;
    // Auth is on with a bootstrap token or with any stored token (`kairos token create --data`).
    const server = await listen(createApi({ engine, token }), stringOption(p.values.host) ?? '127.0.0.1', intOption(p.values.port, 'port', 0, 65535) ?? 7070, Boolean(token) || (await tokensExist(db)));
    engine.start();
    engine.startAlertDelivery(deliverySettings(alerts, server.url));
    // The token and the key are read and the engine has loaded the key: they leave this process's environment.
    scrubCredentials();
    io.err(`kairos: server at ${server.url} (${pg ? `PostgreSQL ${redactUrl(dbUrl)}` : `SQLite ${dbUrl.slice(7)}`}; tz database ${tzdataVersion()})\n`);
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
