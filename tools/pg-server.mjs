/**
 * A throwaway PostgreSQL server for tests and benchmarks: initdb in a temporary directory, listening on
 * 127.0.0.1 at a free port (and a unix socket in the same directory), trust authentication, no fsync.
 * Run as root, it runs the server as the `postgres` user (initdb refuses root), through `runuser`: the server
 * is then not our child, so it is stopped by its own pid (from postmaster.pid), never by signalling runuser.
 *
 *   const pg = await startPostgres();   // { url, stop() } or throws with the reason
 */
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The directory of initdb/postgres: KAIROS_PG_BIN, Debian's /usr/lib/postgresql/N/bin (newest), or PATH. */
export function findPostgresBin() {
  if (process.env.KAIROS_PG_BIN) return process.env.KAIROS_PG_BIN;
  const base = '/usr/lib/postgresql';
  if (existsSync(base)) {
    const versions = readdirSync(base).filter((v) => existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], 'bin');
  }
  const which = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim()) return join(which.stdout.trim(), '..');
  return null;
}

/** The postmaster's pid from its data directory (its first line), or null before it wrote it. */
function postmasterPid(data) {
  try {
    const pid = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Alive and not a zombie (a zombie has exited: only its exit status waits to be collected). */
function running(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

function signal(pid, sig) {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export async function startPostgres({ log = () => {} } = {}) {
  const bin = findPostgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (no initdb found; on Debian: apt-get install postgresql)');
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), 'kairos-pg-'));
  const asOwner = (cmd, args) => (root ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args]);
  if (root) chownSync(dir, Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim()), Number(spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).stdout.trim()));
  const data = join(dir, 'data');
  const [initCmd, initArgs] = asOwner(join(bin, 'initdb'), ['-D', data, '-U', 'kairos', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
  }
  const port = await freePort();
  const [cmd, args] = asOwner(join(bin, 'postgres'), [
    '-D', data, '-k', dir, '-h', '127.0.0.1', '-p', String(port),
    '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300',
  ]);
  let child = null;
  let pid = null;
  let errText = '';
  const url = `postgres://kairos@127.0.0.1:${port}/postgres`;
  /** Starts the server on the data directory and waits until it accepts connections. */
  const launch = async () => {
    // Its own process group (runuser, the postmaster and its backends), so a last-resort kill reaches them all.
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    child = c;
    c.stderr.on('data', (chunk) => {
      errText += chunk.toString();
      if (errText.length > 20_000) errText = errText.slice(-10_000);
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ready = spawnSync(join(bin, 'pg_isready'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'kairos'], { encoding: 'utf8' });
      if (ready.status === 0) break;
      if (c.exitCode !== null || Date.now() > deadline) {
        signal(-c.pid, 'SIGKILL');
        throw new Error(`PostgreSQL did not start: ${errText}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    pid = postmasterPid(data);
  };
  /** Fast shutdown of the postmaster itself (as root `child` is runuser); after 15 s, SIGKILL to its whole group. Keeps the data. */
  const halt = async () => {
    const c = child;
    if (!c) return;
    // SIGINT: "fast shutdown" (disconnects clients, no waiting for them).
    if (pid !== null) signal(pid, 'SIGINT');
    else signal(c.pid, 'SIGINT');
    const deadline = Date.now() + 15_000;
    while ((pid !== null && running(pid)) || (c.exitCode === null && c.signalCode === null)) {
      if (Date.now() > deadline) {
        signal(-c.pid, 'SIGKILL');
        if (pid !== null) signal(pid, 'SIGKILL');
        break;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child = null;
    pid = null;
  };
  try {
    await launch();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  log(`PostgreSQL ${bin.split('/').at(-2)} on 127.0.0.1:${port} (data in ${dir})`);
  let stopped = null;
  let gone = false;
  return {
    url,
    /** The postmaster's own pid (null while paused). */
    get pid() {
      return pid;
    },
    /** Stops the server for a while (an outage a test causes): same port and data when `resume()` starts it again. */
    pause: halt,
    resume: launch,
    stop() {
      stopped ??= (async () => {
        await halt();
        gone = true;
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
    /** Synchronous last resort on process exit. */
    killNow() {
      if (gone) return;
      if (child) signal(-child.pid, 'SIGKILL');
      if (pid !== null) signal(pid, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
