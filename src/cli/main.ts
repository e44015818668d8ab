/** `kairos`: one file per command in this folder; this file routes and owns the exit code. */
import { KairosClient } from '../api/client.js';
import { VERSION } from '../version.js';
import { parse } from './args.js';
import type { Command, CommandEnv } from './command.js';
import { EXIT, processIo, reportError, UsageError, type Io } from './output.js';
import { initCommand } from './init.js';
import { validateCommand } from './validate.js';
import { schemaCommand } from './schema.js';
import { cronCommand } from './cron.js';
import { upCommand } from './up.js';
import { serverCommand } from './server.js';
import { runCommand } from './run.js';
import { runsCommand } from './runs.js';
import { pipelinesCommand } from './pipelines.js';
import { logsCommand } from './logs.js';
import { cancelCommand } from './cancel.js';
import { rerunCommand } from './rerun.js';
import { schedulesCommand } from './schedules.js';
import { pauseCommand } from './pause.js';
import { resumeCommand } from './resume.js';
import { workerCommand } from './worker.js';
import { outputsCommand } from './outputs.js';
import { artifactsCommand } from './artifacts.js';
import { backfillCommand } from './backfill.js';
import { secretCommand } from './secret.js';
import { deployCommand } from './deploy.js';
import { deploymentsCommand } from './deployments.js';
import { rollbackCommand } from './rollback.js';
import { snapshotCommand } from './snapshot.js';
import { tokenCommand } from './token.js';
import { checkCommand } from './check.js';
import { alertsCommand } from './alerts.js';
import { jobsCommand } from './jobs.js';
import { jupyterCommand } from './jupyter.js';
import { doctorCommand } from './doctor.js';
import { publishCommand } from './publish.js';
import { packagesCommand } from './packages.js';

export const COMMANDS: readonly Command[] = [
  initCommand,
  validateCommand,
  checkCommand,
  schemaCommand,
  cronCommand,
  upCommand,
  serverCommand,
  jobsCommand,
  jupyterCommand,
  runCommand,
  runsCommand,
  logsCommand,
  cancelCommand,
  rerunCommand,
  backfillCommand,
  pipelinesCommand,
  schedulesCommand,
  pauseCommand,
  resumeCommand,
  workerCommand,
  outputsCommand,
  artifactsCommand,
  secretCommand,
  deployCommand,
  deploymentsCommand,
  rollbackCommand,
  snapshotCommand,
  tokenCommand,
  alertsCommand,
  doctorCommand,
  publishCommand,
  packagesCommand,
];

function helpText(): string {
  return [
    `kairos ${VERSION}: run data-science code right: right code, right place, right time.`,
    '',
    'usage: kairos COMMAND [options]',
    '',
    ...COMMANDS.map((c) => `  kairos ${c.usage}\n      ${c.summary}`),
    '',
    'global options: --server URL (KAIROS_SERVER, default http://127.0.0.1:7070)  --token T (KAIROS_TOKEN)  --json',
    'exit status: 0 ok, 1 failed, 2 bad usage or invalid input; `kairos run` exits with the job\'s exit code.',
    '',
  ].join('\n');
}

export async function execute(argv: readonly string[], io: Io = processIo, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(helpText());
    return name ? EXIT.ok : EXIT.usage;
  }
  if (name === '--version' || name === 'version') {
    io.out(`${VERSION}\n`);
    return EXIT.ok;
  }
  const cmd = COMMANDS.find((c) => c.name === name);
  try {
    if (!cmd) throw new UsageError(`unknown command "${name}"; commands: ${COMMANDS.map((c) => c.name).join(', ')}`);
    const p = parse(rest, cmd.options, env, { ...cmd.positionals, usage: `kairos ${cmd.usage}` });
    const ce: CommandEnv = { io, env, client: (pp) => new KairosClient(pp.globals.server, pp.globals.token) };
    if (p.help) {
      io.out(`usage: kairos ${cmd.usage}\n\n${cmd.summary}\n`);
      if (cmd.moreHelp) io.out(`\n${await cmd.moreHelp(p, ce)}`);
      return EXIT.ok;
    }
    return (await cmd.run(p, ce)) ?? EXIT.ok;
  } catch (err) {
    return reportError(err, io);
  }
}

export async function main(argv: readonly string[]): Promise<void> {
  const code = await execute(argv);
  process.exitCode = code;
  // Wait for stdout to drain (piped output), then exit even if a stray handle is left.
  process.stdout.write('', () => process.exit(code));
}
