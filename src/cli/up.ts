import { join, relative, resolve } from 'node:path';
import { trackableByGit } from './git.js';
import { startEmbedded } from '../embedded.js';
import { intOption, stringOption } from './args.js';
import type { Command } from './command.js';
import { registryOption } from './registry-option.js';
import { EXIT, UsageError } from './output.js';
import { startProgress } from './progress.js';
import { tzdataVersion } from '../model/cron/index.js';
import { parseDuration } from '../model/duration.js';
import { ALERT_OPTIONS, ALERT_USAGE, alertOptions } from './alert-options.js';
import { scrubCredentials } from './scrub-env.js';
import { RETENTION_OPTIONS, RETENTION_USAGE, retentionOptions } from './retention-options.js';
import { SANDBOX_OPTIONS, SANDBOX_USAGE, sandboxOptions } from './sandbox-options.js';
import { sandboxName } from '../worker/places/sandbox.js';

/** `--lease 30s`: how long a worker's claim on an attempt lasts without a heartbeat. */
export function leaseOption(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' ? parseDuration(v) : null;
  if (ms === null || ms < 500 || ms > 3_600_000) throw new UsageError(`--lease must be a duration from 500ms to 1h, such as 30s; got "${String(v)}"`);
  return ms;
}
import type { ManifestProblem } from '../manifest/index.js';
import { formatProblem } from '../manifest/index.js';

export const upCommand: Command = {
  name: 'up',
  summary: 'API, scheduler, a local worker and SQLite in one process; deploys DIR and redeploys on change',
  usage: `up [DIR] [--port N] [--host H] [--data DIR] [--concurrency N] [--grace SECONDS] [--lease DURATION] [--take-over] [--registry [http://]HOST:PORT[/PREFIX]] ${RETENTION_USAGE} ${SANDBOX_USAGE} ${ALERT_USAGE}`,
  options: { port: { type: 'string' }, host: { type: 'string' }, data: { type: 'string' }, concurrency: { type: 'string' }, grace: { type: 'string' }, lease: { type: 'string' }, 'take-over': { type: 'boolean' }, registry: { type: 'string' }, ...RETENTION_OPTIONS, ...SANDBOX_OPTIONS, ...ALERT_OPTIONS },
  positionals: { min: 0, max: 1 },
  async run(p, { io, env }) {
    const dir = resolve(p.positionals[0] ?? '.');
    const port = intOption(p.values.port, 'port', 0, 65535) ?? 7070;
    // 0: no local worker; remote `kairos worker`s run everything.
    const concurrency = intOption(p.values.concurrency, 'concurrency', 0, 1024);
    const leaseMs = leaseOption(p.values.lease);
    const graceS = intOption(p.values.grace, 'grace', 0, 86400) ?? 30;
    const alerts = alertOptions(p, env);
    const sandbox = sandboxOptions(p, env);
    const registry = registryOption(p.values.registry);
    let up;
    const progress = startProgress(io, `deploying ${dir}`);
    try {
      up = await startEmbedded({
        projectDir: dir,
        dataDir: stringOption(p.values.data),
        host: stringOption(p.values.host),
        port,
        concurrency,
        leaseMs,
        token: p.globals.token ?? env.KAIROS_TOKEN ?? null,
        alerts,
        takeOver: p.values['take-over'] === true,
        sandbox,
        registry,
        retention: retentionOptions(p),
        log: (line) => io.err(line + '\n'),
      });
    } catch (err) {
      const problems = (err as { problems?: readonly ManifestProblem[] }).problems;
      if (problems) {
        for (const pr of problems) io.out(formatProblem(pr) + '\n');
        throw new UsageError(`${dir}: the manifest is invalid; nothing was deployed`);
      }
      throw err;
    } finally {
      progress.done();
    }
    // `git add .` would commit the key that seals this server's secrets.
    const key = join(up.dataDir, 'secret.key');
    if (!env.KAIROS_SECRET_KEY && (await trackableByGit(key))) {
      io.err(`kairos: warning: ${key} (the key your secrets are sealed with) is inside a git work tree and not ignored; add ${relative(dir, up.dataDir) || '.kairos'}/ to .gitignore so that \`git add .\` never commits it\n`);
    }
    // The token and the key are read and the engine has loaded the key: they leave this process's environment.
    scrubCredentials();
    const sandboxed = up.worker ? `; jobs ${up.worker.sandbox ? `sandboxed by ${sandboxName(up.worker.sandbox)}` : 'not sandboxed'}` : '';
    io.err(`kairos: up at ${up.url} (data in ${up.dataDir}; tz database ${tzdataVersion()}${sandboxed}); Ctrl-C to stop\n`);
    await new Promise<void>((resolveStop) => {
      let stopping = false;
      const onSignal = (sig: NodeJS.Signals) => {
        if (stopping) {
          io.err('kairos: stopping now\n');
          process.exit(130);
        }
        stopping = true;
        io.err(`kairos: ${sig}: no new work; waiting up to ${graceS}s for running jobs (again to force)\n`);
        void up.stop(graceS * 1000).then(resolveStop, (err: unknown) => {
          io.err(`kairos: shutdown: ${String(err)}\n`);
          resolveStop();
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
    io.err('kairos: stopped\n');
    return EXIT.ok;
  },
};
