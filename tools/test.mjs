/**
 * `npm test` after the build: starts one PostgreSQL server for the whole run (see tools/pg-server.mjs),
 * exports its URL as KAIROS_TEST_PG_URL, runs `node --test` with the arguments given, and stops the server
 * when the tests end, fail, or are interrupted. Each test file creates its own databases on that server.
 *
 * Without PostgreSQL installed the tests run on SQLite alone, with a visible note; under CI=true the
 * PostgreSQL tests then fail (test/dialects.ts).
 */
import { spawn } from 'node:child_process';
import { startPostgres } from './pg-server.mjs';

const args = process.argv.slice(2);
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
  process.exit(code);
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
