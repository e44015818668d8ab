/**
 * `npm test` after the build: starts one PostgreSQL server for the whole run (see tools/pg-server.mjs),
 * exports its URL as KAIROS_TEST_PG_URL, runs `node --test` with the arguments given, and stops the server
 * when the tests end, fail, or are interrupted. Each test file creates its own databases on that server.
 *
 * Then it fails the run if anything it started is still running: every process started under it carries
 * a marker in its environment (tools/leaks.mjs); what outlives the tests (after a short grace) is named,
 * killed, and makes the exit status non-zero, even when every test passed.
 *
 * Without PostgreSQL installed the tests run on SQLite alone, with a visible note; under CI=true the
 * PostgreSQL tests then fail (test/dialects.ts).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { MARKER, reapLeaks } from './leaks.mjs';
import { startPostgres } from './pg-server.mjs';

/** How long a process may take to end after the tests did, before it counts as leaked. */
const LEAK_GRACE_MS = Number(process.env.KAIROS_TEST_LEAK_GRACE_MS ?? 15_000);

const args = process.argv.slice(2);
const runId = randomBytes(8).toString('hex');
// Set before the server starts: a PostgreSQL that outlives the run is a leak like any other.
process.env[MARKER] = runId;
let pg = null;
if (process.env.KAIROS_TEST_PG_URL) {
  console.error(`tools/test: using KAIROS_TEST_PG_URL from the environment`);
} else {
  try {
    pg = await startPostgres({ log: (m) => console.error(`tools/test: ${m}`) });
    process.env.KAIROS_TEST_PG_URL = pg.url;
  } catch (err) {
    console.error(`tools/test: NOTE: no PostgreSQL for the tests: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const child = spawn(process.execPath, ['--test', ...args], { stdio: 'inherit', env: process.env });
let exiting = false;
const stopAndExit = async (code) => {
  if (exiting) return;
  exiting = true;
  await pg?.stop();
  const leaked = await reapLeaks(runId, LEAK_GRACE_MS);
  if (leaked.length > 0) {
    console.error(`tools/test: FAIL: ${leaked.length} process${leaked.length === 1 ? '' : 'es'} outlived the tests (killed now):`);
    for (const p of leaked) console.error(`tools/test:   pid ${p.pid}: ${p.cmd.slice(0, 300)}`);
    console.error(`tools/test: every process a test starts must end before the test does (see README, Tests)`);
  }
  process.exit(code !== 0 ? code : leaked.length > 0 ? 1 : 0);
};
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    child.kill(sig);
  });
}
process.on('exit', () => pg?.killNow());
child.on('exit', (code, signal) => {
  void stopAndExit(code ?? (signal ? 1 : 0));
});
