/**
 * Isolation between projects on one worker (docs/isolation.md): a real `kairos up` with a token runs project
 * alpha's job (which holds a secret) and project beta's job, which tries every read an attacker would: alpha's
 * bundle by relative and absolute path, /proc/<pid>/environ of alpha's job, of the server and of the launcher,
 * every /proc/<pid>/environ it can list, the database, the key file and the uploads. It gets nothing; alpha's
 * job still reads its own bundle and secret. Both ways of making the sandbox are tried: the native launcher's
 * own namespaces (the default as root) and bubblewrap, which CI installs (.ci/run): here a missing bwrap or a
 * native launcher that cannot make namespaces fails the test rather than skipping it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { resolveSandbox } from '../../src/worker/places/sandbox.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const TOKEN = 'isolation-admin-token-3f9c1a';
const SECRET = 'alpha-secret-value-8d2e71';
const ALPHA_FILE = 'alpha-bundle-content-5b7d';

// Beta's job: each read prints what it got; the test looks for anything of alpha's or the server's in the log.
const ATTACK = String.raw`
try() { what=$1; shift; out=$("$@" 2>/dev/null | base64 -w0); if [ -n "$out" ]; then echo "GOT $what $out"; else echo "denied $what"; fi; }
try relative-bundle cat ../$KAIROS_PARAM_A_HASH/data.txt
try relative-listing ls -a ..
try absolute-bundle cat $KAIROS_PARAM_DATA/bundles/$KAIROS_PARAM_A_HASH/data.txt
try alpha-job-environ cat /proc/$KAIROS_PARAM_A_PID/environ
try server-environ cat /proc/$KAIROS_PARAM_SERVER_PID/environ
try launcher-environ cat /proc/$KAIROS_PARAM_LAUNCHER_PID/environ
try every-environ sh -c 'for f in /proc/[0-9]*/environ; do cat $f; echo; done | grep -a -e KAIROS_TOKEN -e A_SECRET -e alpha'
try database cat $KAIROS_PARAM_DATA/kairos.db
try key-file cat $KAIROS_PARAM_DATA/secret.key
try uploads ls -a $KAIROS_PARAM_DATA/uploads
try data-listing ls -a $KAIROS_PARAM_DATA
try attempts-listing sh -c "ls $KAIROS_PARAM_DATA/attempts | grep -v $KAIROS_RUN_ID"
try init-memory head -c 4096 /proc/1/mem
try init-maps cat /proc/1/maps
try mount-proc sh -c 'mkdir -p /tmp/p && mount -t proc proc /tmp/p && ls /tmp/p'
try write-machine sh -c 'echo x > /usr/kairos-isolation-probe && echo wrote'
try own-token sh -c 'env | grep -a KAIROS_TOKEN'
try write-inputs sh -c 'echo x > "$KAIROS_INPUTS/probe" && echo wrote'
echo "inputs: $(ls -A "$KAIROS_INPUTS" | wc -l) in $(test -d "$KAIROS_INPUTS" && echo a-folder)"
echo "own bundle: $(cat beta.txt)"
echo "processes: $(ls -d /proc/[0-9]* | wc -l)"
`;

function b64(s: string | Buffer): string {
  return Buffer.from(s).toString('base64');
}

for (const mode of ['native', 'bwrap'] as const)
describe(`isolation between projects on one worker (--sandbox ${mode})`, () => {
  const dir = tempDir();
  const data = join(dir.path, 'data');
  let port = 0;
  let up: ReturnType<typeof spawnCli>;
  let client: KairosClient;
  const env = () => ({ KAIROS_TOKEN: TOKEN, KAIROS_SERVER: `http://127.0.0.1:${port}` });

  before(async () => {
    assert.equal(resolveSandbox({ mode })?.kind, mode, mode === 'bwrap' ? 'bwrap is installed (Debian: apt-get install bubblewrap)' : 'the native launcher makes namespaces here');
    writeProject(dir.path, {
      'alpha/kairos.yaml': `project: alpha
jobs:
  hold:
    run: 'cat data.txt; echo "secret $(printf %s "$A_SECRET" | sha256sum | cut -c1-16)"; echo ready; sleep 300'
    secrets: [A_SECRET]
`,
      'alpha/data.txt': ALPHA_FILE + '\n',
      'beta/kairos.yaml': `project: beta
jobs:
  attack:
    run: ["sh", "attack.sh"]
    params:
      a_hash: {type: string, required: true}
      a_pid: {type: integer, required: true}
      server_pid: {type: integer, required: true}
      launcher_pid: {type: integer, required: true}
      data: {type: string, required: true}
`,
      'beta/attack.sh': ATTACK,
      'beta/beta.txt': 'beta-own-file\n',
    });
    port = await freePort();
    client = new KairosClient(`http://127.0.0.1:${port}`, TOKEN);
    up = spawnCli(['up', join(dir.path, 'alpha'), '--port', String(port), '--data', data, '--concurrency', '4', '--sandbox', mode], { env: { KAIROS_TOKEN: TOKEN } });
    await waitFor('the server', () => client.health(), 30_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${up.output()}`);
    });
    const dep = await cli(['deploy', join(dir.path, 'beta')], { env: env() });
    assert.equal(dep.code, 0, dep.stderr);
    const set = await cli(['secret', 'set', 'A_SECRET', '--project', 'alpha'], { env: env(), input: SECRET + '\n' });
    assert.equal(set.code, 0, set.stderr);
  });

  after(async () => {
    if (up.child.exitCode === null && up.child.signalCode === null) {
      up.child.kill('SIGTERM');
      await exited(up.child);
    }
    dir.cleanup();
  });

  test("beta's job reads nothing of alpha's, of the server's or of the launcher's; alpha's job reads its own", { timeout: 120_000 }, async () => {
    const hold = await client.createRun('hold', {}, 'alpha');
    await waitFor("alpha's job", async () => (await client.logs(hold.id)).lines.some((l) => l.line === 'ready'), 30_000);
    const alphaLog = (await client.logs(hold.id)).lines.map((l) => l.line);
    assert.ok(alphaLog.includes(ALPHA_FILE), alphaLog.join('\n'));
    assert.ok(alphaLog.includes(`secret ${createHash('sha256').update(SECRET).digest('hex').slice(0, 16)}`), 'alpha reads its secret');
    const aHash = (await client.getRun(hold.id)).bundle_hash;
    const aPid = Number(((await client.attempts(hold.id)).attempts[0] as { pid: number }).pid);
    const serverPid = up.child.pid ?? 0;
    const launcherPid = readdirSync('/proc')
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .find((p) => {
        try {
          const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
          return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === String(serverPid) && readFileSync(`/proc/${p}/cmdline`, 'utf8').includes('launcher');
        } catch {
          return false;
        }
      });
    assert.ok(launcherPid, 'the launcher process of kairos up');
    // The host itself (same user, root here): the token is no longer in the server's or launcher's environment.
    for (const p of [serverPid, launcherPid]) assert.ok(!readFileSync(`/proc/${p}/environ`, 'latin1').includes(TOKEN), `/proc/${p}/environ holds the token`);

    const attack = await client.createRun('attack', { a_hash: aHash, a_pid: aPid, server_pid: serverPid, launcher_pid: launcherPid, data }, 'beta');
    const done = await client.getRun(attack.id, 60);
    assert.equal(done.state, 'succeeded', done.reason ?? '');
    const lines = (await client.logs(attack.id)).lines.map((l) => l.line);
    const text = lines.join('\n');
    const decoded = lines.filter((l) => l.startsWith('GOT ')).map((l) => `${l.split(' ')[1]}: ${Buffer.from(l.split(' ')[2] ?? '', 'base64').toString('latin1')}`);
    const key = readFileSync(join(data, 'secret.key'));
    for (const what of ['relative-bundle', 'absolute-bundle', 'alpha-job-environ', 'server-environ', 'launcher-environ', 'every-environ', 'database', 'key-file', 'uploads', 'attempts-listing', 'own-token', 'init-memory', 'mount-proc', 'write-machine', 'write-inputs', ...(mode === 'native' ? ['init-maps'] : [])]) {
      // (bwrap's own init is a fresh exec of bwrap: its maps are readable and hold nothing; the native init is a
      // copy of the launcher, so nothing of it may be read.)
      assert.ok(lines.includes(`denied ${what}`), `${what} was not denied:\n${decoded.join('\n')}`);
    }
    // Listings show only beta's own: the parent of its bundle holds its bundle alone; the data directory only
    // what was put back for this attempt.
    for (const d of decoded) {
      for (const bad of [aHash, SECRET, TOKEN, ALPHA_FILE, 'SQLite format 3', key.toString('latin1'), 'kairos.db', 'secret.key', 'uploads']) {
        assert.ok(!d.includes(bad), `beta read "${bad.slice(0, 20)}": ${d.slice(0, 300)}`);
      }
    }
    for (const bad of [b64(SECRET).slice(0, 16), b64(TOKEN).slice(0, 16), b64(ALPHA_FILE).slice(0, 12)]) assert.ok(!text.includes(bad));
    assert.ok(lines.includes('own bundle: beta-own-file'), text);
    // A job without inputs gets an empty folder it cannot write (shared by such attempts on this worker).
    assert.ok(lines.includes('inputs: 0 in a-folder'), text);
    // Its own PID namespace: a handful of processes (the sandbox's init, the shell, ls, wc), not the machine's.
    const procs = Number(/^processes: (\d+)$/m.exec(text)?.[1]);
    assert.ok(procs > 0 && procs < 10, `beta's job saw ${procs} processes`);

    // Alpha's job is still running, unharmed, and cancels cleanly.
    assert.equal((await client.getRun(hold.id)).state, 'running');
    await client.cancelRun(hold.id);
    assert.equal((await client.getRun(hold.id, 30)).state, 'cancelled');
  });
});
