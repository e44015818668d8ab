/**
 * Secrets end to end: `kairos up --concurrency 0` with a token as the control plane, a `kairos worker`
 * process over HTTP, secrets set with the CLI. A job gets its secrets as environment variables and prints
 * them every way it can; none of it reaches the stored log, the live stream, any API answer about the run,
 * the database file, or the server's and worker's own output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { startEmbedded } from '../../src/embedded.js';
import { spawn } from 'node:child_process';
import { BIN, cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const TOKEN = 'test-api-token-7b1f';
const API_TOKEN = 'tok_Zq9+/x7Y"quote\\back-é';
const PEM = ['-----BEGIN TEST KEY-----', 'MIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEAq7BFUpkGp3+XQmHk', 'cTJf5xQyV4lMZn3pFqB8sR2tW6eJkLdN0vY1oU7iHgC9aXbPzKmE4wQjTyRsD5', '-----END TEST KEY-----'].join('\n') + '\n';
const FORBIDDEN = [API_TOKEN, 'tok_Zq9', 'Zq9+/x7Y', ...PEM.split('\n').filter((l) => l.length > 0)];

function assertClean(what: string, text: string): void {
  for (const f of FORBIDDEN) assert.ok(!text.includes(f), `${what} contains a secret (${f.slice(0, 12)}…):\n${text.slice(0, 4000)}`);
  for (const enc of [Buffer.from(API_TOKEN).toString('base64'), Buffer.from(API_TOKEN).toString('base64url'), JSON.stringify(API_TOKEN).slice(1, -1)]) {
    assert.ok(!text.includes(enc.slice(0, 12)), `${what} contains an encoded secret:\n${text.slice(0, 4000)}`);
  }
}

const SHOW_PY = `
import base64, json, os, sys, time
t = os.environ["API_TOKEN"]
k = os.environ["PEM_KEY"]
print("whole:", t, flush=True)
print("sha256:", __import__("hashlib").sha256(t.encode()).hexdigest(), flush=True)
print("json:", json.dumps({"token": t}), flush=True)
print("json-js:", json.dumps({"token": t}, ensure_ascii=False), flush=True)
for pre in (b"", b"a", b"ab"):
    raw = pre + t.encode() + b"/trailing-bytes"
    print("b64:", base64.b64encode(raw).decode(), flush=True)
    print("b64url:", base64.urlsafe_b64encode(raw).decode(), flush=True)
print("pem follows", flush=True)
sys.stdout.write(k)
sys.stdout.flush()
print("pem json:", json.dumps(k), flush=True)
print("to stderr:", t, file=sys.stderr, flush=True)
with open(os.environ["KAIROS_OUTPUT"], "a") as f:
    f.write(json.dumps({"name": "metric-" + t, "value": 1}) + "\\n")
`;

describe('secrets', () => {
  const dir = tempDir();
  let port = 0;
  let client: KairosClient;
  let up: ReturnType<typeof spawnCli>;
  let worker: ReturnType<typeof spawnCli>;
  const server = () => `http://127.0.0.1:${port}`;
  const env = () => ({ KAIROS_TOKEN: TOKEN, KAIROS_SERVER: server() });
  const dataDir = join(dir.path, 'server-data');

  before(async () => {
    writeProject(dir.path, {
      'project/kairos.yaml': `project: sec
jobs:
  show:
    run: ["python3", "show.py"]
    secrets: [API_TOKEN, PEM_KEY]
  split:
    # The value in two writes 0.3 s apart, on one line.
    run: printf '%.5s' "$API_TOKEN"; sleep 0.3; printf '%s\\n' "\${API_TOKEN#?????}"; echo done
    secrets: [API_TOKEN]
  missing:
    run: echo never
    secrets: [NOT_SET]
  plain:
    run: 'echo "no secrets here: [\${API_TOKEN:-unset}]"'
`,
      'project/show.py': SHOW_PY,
    });
    port = await freePort();
    client = new KairosClient(server(), TOKEN);
    up = spawnCli(['up', join(dir.path, 'project'), '--port', String(port), '--data', dataDir, '--concurrency', '0'], { env: { KAIROS_TOKEN: TOKEN } });
    await waitFor('the server', () => client.health(), 20_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\n${up.output()}`);
    });
    worker = spawnCli(['worker', '--server', server(), '--id', 'w1', '--data', join(dir.path, 'worker-cache'), '--concurrency', '2', '--grace', '1'], { env: { KAIROS_TOKEN: TOKEN } });
    await waitFor('the worker to register', () => /worker w1 /.test(worker.output()), 20_000);
  });

  after(async () => {
    for (const p of [worker, up]) {
      if (p && p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    dir.cleanup();
  });

  test('kairos secret set reads the value from a pipe or a file; list shows names only; bad names and short values exit 2 without echoing', async () => {
    const set = await cli(['secret', 'set', 'API_TOKEN', '--project', 'sec'], { env: env(), input: API_TOKEN + '\n' });
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /secret API_TOKEN set in project sec/);
    writeFileSync(join(dir.path, 'key.pem'), PEM);
    // No --project: the server's only project.
    const file = await cli(['secret', 'set', 'PEM_KEY', '--file', join(dir.path, 'key.pem')], { env: env() });
    assert.equal(file.code, 0, file.stderr);

    const list = await cli(['secret', 'list', '--project', 'sec', '--json'], { env: env() });
    assert.equal(list.code, 0, list.stderr);
    const rows = JSON.parse(list.stdout) as { name: string; project: string; updated_at: string }[];
    assert.deepEqual(rows.map((r) => [r.project, r.name]), [['sec', 'API_TOKEN'], ['sec', 'PEM_KEY']]);
    assert.ok(rows.every((r) => !Number.isNaN(Date.parse(r.updated_at))));
    assertClean('secret list --json', list.stdout);
    assertClean('secret list', (await cli(['secret', 'list'], { env: env() })).stdout);

    const badName = await cli(['secret', 'set', 'lower-case', '--project', 'sec'], { env: env(), input: 'whatever-value' });
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /not a valid secret name/);
    const short = await cli(['secret', 'set', 'SHORT', '--project', 'sec'], { env: env(), input: 'ab7' });
    assert.equal(short.code, 2);
    assert.match(short.stderr, /too short: at least 4 characters/);
    assert.ok(!short.stderr.includes('ab7'), 'the error does not echo the value');
    const reserved = await cli(['secret', 'set', 'KAIROS_X', '--project', 'sec'], { env: env(), input: 'long-enough' });
    assert.equal(reserved.code, 2);

    // The API: a listing never carries a value; a PUT without a token is refused.
    const anon = await fetch(`${server()}/api/v1/secrets/sec/OTHER`, { method: 'PUT', body: JSON.stringify({ value: 'abcdef' }) });
    assert.equal(anon.status, 401);
    const listed = await (await fetch(`${server()}/api/v1/secrets?project=sec`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    assertClean('GET /api/v1/secrets', listed);
  });

  test('at a terminal, kairos secret set prompts and does not echo what is typed', { timeout: 600_000 }, async (t) => {
    // A real pseudo-terminal through util-linux `script`; skipped where it is missing.
    const script = ['/usr/bin/script', '/bin/script'].find((p) => existsSync(p));
    if (!script) return t.skip('no `script` here to give the CLI a terminal');
    const typed = 'typed-at-a-terminal-42';
    const child = spawn(script, ['-qec', `${process.execPath} ${BIN} secret set TYPED --project sec`, '/dev/null'], { env: { ...process.env, ...env() }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor('the prompt', () => out.includes('value of TYPED (not echoed): '), 20_000);
    child.stdin.write(typed + '\r');
    await waitFor('the secret to be set', () => out.includes('secret TYPED set in project sec'), 20_000);
    child.stdin.end();
    await exited(child);
    assert.ok(!out.includes(typed), `the terminal showed the value:\n${out}`);
    const listed = await client.listSecrets('sec');
    assert.ok(listed.secrets.some((x) => x.name === 'TYPED'));
    await client.deleteSecret('sec', 'TYPED');
  });

  test('the database holds only sealed values, and the generated key file is private', async () => {
    const keyFile = join(dataDir, 'secret.key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    for (const f of readdirSync(dataDir).filter((n) => n.startsWith('kairos.db'))) {
      const bytes = readFileSync(join(dataDir, f));
      assert.ok(!bytes.includes(Buffer.from('tok_Zq9')), `${f} holds the plaintext`);
      assert.ok(!bytes.includes(Buffer.from(PEM.split('\n')[1] ?? '')), `${f} holds the plaintext`);
    }
  });

  test('a run gets its secrets as environment variables, and no form of them reaches the log, the live stream or the API', { timeout: 600_000 }, async () => {
    const run = await client.createRun('show', {}, 'sec');
    const streamed: string[] = [];
    for await (const ev of client.followLogs(run.id)) streamed.push(JSON.stringify(ev));
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'succeeded', done.reason ?? '');

    const logs = await cli(['logs', run.id], { env: env() });
    assert.equal(logs.code, 0, logs.stderr);
    const lines = logs.stdout.split('\n');
    // The job saw the real value.
    assert.ok(lines.includes(`sha256: ${createHash('sha256').update(API_TOKEN).digest('hex')}`), logs.stdout);
    assert.ok(lines.includes('whole: ***'), logs.stdout);
    assert.ok(lines.includes('json: {"token": "***"}'), logs.stdout);
    assert.equal(lines.filter((l) => /^b64(url)?: /.test(l)).length, 6);
    for (const l of lines.filter((x) => /^b64(url)?: /.test(x))) assert.match(l, /\*\*\*/, l);
    const pemAt = lines.indexOf('pem follows');
    assert.deepEqual(lines.slice(pemAt + 1, pemAt + 5), ['***', '***', '***', '***']);
    assert.match(logs.stderr, /to stderr: \*\*\*/);

    assertClean('kairos logs', logs.stdout + logs.stderr);
    assertClean('kairos logs --json', (await cli(['logs', run.id, '--json'], { env: env() })).stdout);
    assertClean('the live stream', streamed.join('\n'));
    assertClean('GET run', JSON.stringify(await client.getRun(run.id)));
    assertClean('GET attempts', JSON.stringify(await client.attempts(run.id)));
    const outputs = await client.outputs(run.id);
    assert.deepEqual(outputs.metrics.map((m) => m.name), ['metric-***']);
    assertClean('GET outputs', JSON.stringify(outputs));
    assertClean('GET runs', JSON.stringify(await client.listRuns({ project: 'sec' })));
  });

  test('a value written in two pieces 0.3 s apart is masked', { timeout: 600_000 }, async () => {
    const run = await client.createRun('split', {}, 'sec');
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'succeeded', done.reason ?? '');
    const text = (await client.logs(run.id)).lines.map((l) => l.line);
    assert.deepEqual(text, ['***', 'done']);
  });

  test('a job naming a secret that is not set fails at claim with a reason naming it; a job without secrets gets none', { timeout: 600_000 }, async () => {
    const run = await client.createRun('missing', {}, 'sec');
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'failed');
    assert.match(done.reason ?? '', /^secret NOT_SET is not set in project sec/);
    const attempts = (await client.attempts(run.id)).attempts as { state: string; reason: string }[];
    assert.equal(attempts[0]?.state, 'failed');
    assert.deepEqual((await client.logs(run.id)).lines, [], 'the job never started');

    const plain = await client.createRun('plain', {}, 'sec');
    assert.equal((await client.getRun(plain.id, 120)).state, 'succeeded');
    assert.deepEqual((await client.logs(plain.id)).lines.map((l) => l.line), ['no secrets here: [unset]']);
  });

  test('a deleted secret is gone: the next run that needs it fails', { timeout: 600_000 }, async () => {
    const del = await cli(['secret', 'delete', 'API_TOKEN', '--project', 'sec'], { env: env() });
    assert.equal(del.code, 0, del.stderr);
    const again = await cli(['secret', 'delete', 'API_TOKEN', '--project', 'sec'], { env: env() });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /secret API_TOKEN is not set in project sec/);
    const run = await client.createRun('split', {}, 'sec');
    const done = await client.getRun(run.id, 120);
    assert.equal(done.state, 'failed');
    assert.match(done.reason ?? '', /secret API_TOKEN is not set in project sec/);
  });

  test("neither the server's nor the worker's own output contains a secret", () => {
    assertClean('the server output', up.output());
    assertClean('the worker output', worker.output());
  });
});

describe('the secret key', () => {
  test('a key file readable by others is refused, and so is a KAIROS_SECRET_KEY that is not 32 bytes of base64', { timeout: 600_000 }, async () => {
    const dir = tempDir();
    try {
      const data = join(dir.path, 'data');
      writeProject(dir.path, { 'data/secret.key': Buffer.alloc(32, 7).toString('base64') + '\n' });
      chmodSync(join(data, 'secret.key'), 0o644);
      const exposed = await cli(['server', '--data', data, '--port', '0'], { timeoutMs: 30_000 });
      assert.equal(exposed.code, 2, exposed.stderr);
      assert.match(exposed.stderr, /refusing to use the secret key .*secret\.key: it is readable or writable by group or others \(mode 0644\)/);

      const bad = await cli(['server', '--data', join(dir.path, 'other'), '--port', '0'], { env: { KAIROS_SECRET_KEY: 'c2hvcnQ=' }, timeoutMs: 30_000 });
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(bad.stderr, /KAIROS_SECRET_KEY must be the base64 of 32 random bytes/);
      assert.ok(!bad.stderr.includes('c2hvcnQ='), 'the key is not echoed');
    } finally {
      dir.cleanup();
    }
  });

  test('a data directory inside the project (--data DIR/state) is never bundled: the key stays out of deployments', { timeout: 600_000 }, async () => {
    const dir = tempDir();
    try {
      writeProject(dir.path, { 'kairos.yaml': 'project: inside\njobs:\n  ls:\n    run: "find . -name secret.key"\n', 'state-notes.txt': 'kept' });
      const up = await startEmbedded({ projectDir: dir.path, dataDir: join(dir.path, 'state'), port: 0, watch: false, log: () => {} });
      try {
        assert.equal(statSync(join(dir.path, 'state', 'secret.key')).mode & 0o777, 0o600);
        const client = new KairosClient(up.url);
        const run = await client.createRun('ls', {});
        assert.equal((await client.getRun(run.id, 120)).state, 'succeeded');
        assert.deepEqual((await client.logs(run.id)).lines, [], 'no secret.key in the bundle the job runs in');
        const bundles = readdirSync(join(dir.path, 'state', 'bundles'));
        for (const b of bundles) assert.deepEqual(readdirSync(join(dir.path, 'state', 'bundles', b)).sort(), ['kairos.yaml', 'state-notes.txt']);
      } finally {
        await up.stop(1000);
      }
    } finally {
      dir.cleanup();
    }
  });

  test('rotating the key: with the old key as secret.key.previous, secrets are sealed again with the new one and runs keep working; without it they fail clearly', { timeout: 600_000 }, async () => {
    const dir = tempDir();
    const data = join(dir.path, 'data');
    const value = 'rotate-me-0123456789';
    const sha = createHash('sha256').update(value).digest('hex');
    const start = () => startEmbedded({ projectDir: join(dir.path, 'p'), dataDir: data, port: 0, watch: false, log: () => {} });
    const runOnce = async (up: Awaited<ReturnType<typeof start>>) => {
      const client = new KairosClient(up.url);
      const run = await client.createRun('use', {});
      const done = await client.getRun(run.id, 120);
      return { done, lines: (await client.logs(run.id)).lines.map((l) => l.line), client };
    };
    try {
      writeProject(dir.path, { 'p/kairos.yaml': 'project: rot\njobs:\n  use:\n    run: printf %s "$TOKEN" | sha256sum | cut -c1-64; echo "$TOKEN"\n    secrets: [TOKEN]\n' });
      let up = await start();
      try {
        await new KairosClient(up.url).setSecret('rot', 'TOKEN', value);
        const r = await runOnce(up);
        assert.equal(r.done.state, 'succeeded', r.done.reason ?? '');
        assert.deepEqual(r.lines, [sha, '***']);
      } finally {
        await up.stop(1000);
      }
      const oldKey = readFileSync(join(data, 'secret.key'), 'utf8');
      renameSync(join(data, 'secret.key'), join(data, 'secret.key.previous'));
      up = await start();
      try {
        const newId = (await waitFor('the secret to be sealed again', async () => {
          const { secrets } = await new KairosClient(up.url).listSecrets('rot');
          const k = secrets[0]?.key_id;
          return k && k !== createHash('sha256').update(Buffer.from(oldKey.trim(), 'base64')).digest('hex').slice(0, 16) ? k : null;
        }));
        assert.notEqual(readFileSync(join(data, 'secret.key'), 'utf8'), oldKey, 'a new key was generated');
        const r = await runOnce(up);
        assert.equal(r.done.state, 'succeeded', r.done.reason ?? '');
        assert.deepEqual(r.lines, [sha, '***']);
        void newId;
      } finally {
        await up.stop(1000);
      }
      // The previous key is no longer needed.
      rmSync(join(data, 'secret.key.previous'));
      up = await start();
      try {
        const r = await runOnce(up);
        assert.equal(r.done.state, 'succeeded', r.done.reason ?? '');
      } finally {
        await up.stop(1000);
      }
      // A key replaced without keeping the previous one: runs fail and say why.
      rmSync(join(data, 'secret.key'));
      up = await start();
      try {
        const r = await runOnce(up);
        assert.equal(r.done.state, 'failed');
        assert.match(r.done.reason ?? '', /^secret TOKEN of project rot cannot be opened: it was sealed with another key \([0-9a-f]{16}; the server now has [0-9a-f]{16} from .*secret\.key\); set it again$/);
      } finally {
        await up.stop(1000);
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe('a value across the 16 KiB cut of an over-long line', () => {
  for (const launcher of ['native', 'node'] as const) {
    test(`is masked (${launcher} launcher)`, { timeout: 600_000 }, async () => {
      const dir = tempDir();
      const saved = process.env.KAIROS_LAUNCHER;
      if (launcher === 'node') process.env.KAIROS_LAUNCHER = 'node';
      else delete process.env.KAIROS_LAUNCHER;
      try {
        writeProject(dir.path, {
          'p/kairos.yaml': 'project: long\njobs:\n  long:\n    run: ["python3", "-c", "import os; print(\'x\' * (16384 - 5) + os.environ[\'TOKEN\'] + \'y\' * 100)"]\n    secrets: [TOKEN]\n',
        });
        const up = await startEmbedded({ projectDir: join(dir.path, 'p'), dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} });
        try {
          const client = new KairosClient(up.url);
          await client.setSecret('long', 'TOKEN', 'straddling-secret-value');
          const run = await client.createRun('long', {});
          const done = await client.getRun(run.id, 120);
          assert.equal(done.state, 'succeeded', done.reason ?? '');
          const lines = (await client.logs(run.id)).lines.map((l) => l.line);
          assert.ok(lines.length >= 2, 'the line was cut');
          assert.equal(lines.join(''), 'x'.repeat(16384 - 5) + '***' + 'y'.repeat(100));
          assert.ok(!lines.some((l) => l.includes('straddl') || l.includes('value')), lines.map((l) => l.slice(-40)).join(' | '));
        } finally {
          await up.stop(1000);
        }
      } finally {
        if (saved === undefined) delete process.env.KAIROS_LAUNCHER;
        else process.env.KAIROS_LAUNCHER = saved;
        dir.cleanup();
      }
    });
  }
});
