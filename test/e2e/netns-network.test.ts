/**
 * Network needs across hosts (network namespaces, docs/network.md): two worker hosts and a service host. Host
 * a routes to the service host; host b has no route to it (until the test adds one); on the service host a
 * firewall rule drops one port. Each class of result is reported by the right check, a `fail` job fails on
 * the cut-off host and succeeds on the other, a `wait` job waits and starts once the route is added, and
 * `kairos doctor` shows the matrix with the failing cells and exits 1.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KairosClient } from '../../src/api/client.js';
import { API, type DoctorView } from '../../src/api/contract/index.js';
import { cli, exited, freePort, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';
import { createHost, netnsUnavailable, type NetHost } from '../netns.js';

const TOKEN = 'netns-network-token-0123456789abcdef';

function sh(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

const subnetOf = (ip: string) => ip.replace(/\.\d+$/, '.0/24');

describe('network needs across hosts', { skip: process.env.CI ? false : (netnsUnavailable() ?? false) }, () => {
  const dir = tempDir();
  let port = 0;
  let client: KairosClient;
  const procs: { child: ChildProcess; output(): string }[] = [];
  let hostA: NetHost;
  let hostB: NetHost;
  let svc: NetHost;
  let service: ChildProcess | null = null;
  let forwardBefore = '';
  const ports = { ok: 0, tls: 0, dropped: 0, refused: 0 };
  const netnsDirs: string[] = [];

  before(async () => {
    const why = netnsUnavailable();
    if (why) throw new Error(`network namespace tests cannot run: ${why}`);
    if (process.env.CI) sh('iptables', ['--version']);
    [ports.ok, ports.tls, ports.dropped, ports.refused] = [15432, 15443, 15999, 15998];

    hostA = createHost();
    hostB = createHost();
    svc = createHost();
    // Routing through this machine: a → service host (and back), b → nothing yet, service host → b (for later).
    forwardBefore = sh('sysctl', ['-n', 'net.ipv4.ip_forward']).trim();
    sh('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    sh('ip', ['netns', 'exec', hostA.ns, 'ip', 'route', 'add', subnetOf(svc.ip), 'via', hostA.peerIp]);
    sh('ip', ['netns', 'exec', svc.ns, 'ip', 'route', 'add', subnetOf(hostA.ip), 'via', svc.peerIp]);
    sh('ip', ['netns', 'exec', svc.ns, 'ip', 'route', 'add', subnetOf(hostB.ip), 'via', svc.peerIp]);
    // The firewall rule: the service host drops one port (a connect times out rather than being refused).
    sh('ip', ['netns', 'exec', svc.ns, 'iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', String(ports.dropped), '-j', 'DROP']);
    // Worker hosts resolve svc.test to the service host (`ip netns exec` puts /etc/netns/NS/hosts over /etc/hosts).
    for (const h of [hostA, hostB]) {
      const d = `/etc/netns/${h.ns}`;
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, 'hosts'), `127.0.0.1 localhost\n${svc.ip} svc.test\n`);
      netnsDirs.push(d);
    }
    // The service host's services: a TCP "database", an HTTPS server whose certificate names svc.test, and a
    // listener on the dropped port (so only the firewall makes it fail).
    const cert = join(dir.path, 'cert.pem');
    const key = join(dir.path, 'key.pem');
    sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=svc.test', '-addext', 'subjectAltName=DNS:svc.test']);
    const script = `
      const net = require('node:net'), https = require('node:https'), fs = require('node:fs');
      net.createServer((s) => s.end()).listen(${ports.ok}, '0.0.0.0');
      net.createServer((s) => s.end()).listen(${ports.dropped}, '0.0.0.0');
      https.createServer({ cert: fs.readFileSync(${JSON.stringify(cert)}), key: fs.readFileSync(${JSON.stringify(key)}) }, (q, r) => r.end('ok')).listen(${ports.tls}, '0.0.0.0', () => console.log('listening'));
    `;
    service = spawn('ip', ['netns', 'exec', svc.ns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      service?.stdout?.once('data', () => resolve());
      service?.once('exit', (code) => reject(new Error(`the service host's services exited (${code})`)));
    });

    writeProject(dir.path, {
      'project/kairos.yaml': `project: net
defaults:
  network:
    timeout: 3s
pools:
  a: {}
  b: {}
jobs:
  survey:
    description: never run; its needs make the doctor's matrix
    run: "true"
    network:
      needs:
        - postgres://svc.test:${ports.ok}
        - https://svc.test:${ports.tls}/health
        - https://${svc.ip}:${ports.tls}
        - tcp://svc.test:${ports.dropped}
        - tcp://svc.test:${ports.refused}
        - dns:nosuch.test
  load:
    run: "echo loaded"
    network:
      needs: [postgres://svc.test:${ports.ok}]
      on_failure: fail
  hold:
    run: "sleep 8"
    pool: a
  retried:
    run: "echo retried"
    retries: {max: 1, delay: 0s}
    network:
      needs: [tcp://svc.test:${ports.ok}]
  sync:
    run: "echo synced"
    pool: b
    network:
      needs: [postgres://svc.test:${ports.ok}]
      on_failure: wait
      max_wait: 10m
`,
    });
    port = await freePort();
    client = new KairosClient(`http://127.0.0.1:${port}`, TOKEN);
    procs.push(spawnCli(['up', join(dir.path, 'project'), '--host', '0.0.0.0', '--port', String(port), '--data', join(dir.path, 'server-data'), '--concurrency', '0', '--lease', '3s'], { env: { KAIROS_TOKEN: TOKEN } }));
    await waitFor('the server', () => client.health(), 30_000);
    await waitFor('the deployment', async () => (await client.call(API.deployments.list, {})).deployments.length > 0, 30_000);
  });

  after(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    if (service && service.exitCode === null && service.signalCode === null) {
      service.kill('SIGKILL');
      await exited(service);
    }
    for (const h of [hostA, hostB, svc]) h?.destroy();
    for (const d of netnsDirs) rmSync(d, { recursive: true, force: true });
    if (forwardBefore !== '' && forwardBefore !== '1') sh('sysctl', ['-qw', `net.ipv4.ip_forward=${forwardBefore}`]);
    dir.cleanup();
  });

  const startWorker = (host: NetHost, id: string, pools: string[]) => {
    const w = host.spawnCli(['worker', '--server', `http://${host.peerIp}:${port}`, '--id', id, '--data', join(dir.path, `cache-${id}`), '--concurrency', '2', '--grace', '1', ...pools.flatMap((p) => ['--pool', p])], {
      KAIROS_TOKEN: TOKEN,
      NODE_EXTRA_CA_CERTS: join(dir.path, 'cert.pem'),
    });
    procs.push(w);
    return w;
  };
  const workerAlive = (id: string) => waitFor(`worker ${id} to register`, async () => (await client.call(API.ops.workers, {})).workers.some((w) => w.id === id && w.alive), 60_000);
  const finished = (id: string) => waitFor(`run ${id} to end`, async () => {
    const r = await client.getRun(id);
    return r.finished_at !== null ? r : null;
  }, 120_000, 200);

  test('a fail job fails on the cut-off host (network_unreachable, naming the endpoint) and then goes to the host that reaches it', { timeout: 600_000 }, async () => {
    startWorker(hostB, 'host-b', ['default', 'b']);
    await workerAlive('host-b');
    const first = await client.createRun('load', {});
    const r1 = await finished(first.id);
    assert.equal(r1.state, 'failed');
    assert.equal(r1.reason_code, 'network_unreachable');
    assert.match(r1.reason ?? '', new RegExp(`postgres://svc\\.test:${ports.ok} network unreachable`));
    assert.equal(r1.network?.[0]?.result, 'unreachable');
    const a1 = (await client.attempts(first.id)).attempts as { worker_id: string }[];
    assert.equal(a1[0]?.worker_id, 'host-b');

    startWorker(hostA, 'host-a', ['default', 'a']);
    await workerAlive('host-a');
    const second = await client.createRun('load', {});
    const r2 = await finished(second.id);
    assert.equal(r2.state, 'succeeded', r2.reason ?? '');
    const a2 = (await client.attempts(second.id)).attempts as { worker_id: string; network: { result: string }[] }[];
    assert.equal(a2[0]?.worker_id, 'host-a', 'placement preferred the host whose check passed');
    assert.equal(a2[0]?.network[0]?.result, 'ok');
    assert.match((await client.logs(second.id)).lines.map((l) => l.line).join('\n'), /network: 1 endpoint ok/);
  });

  test('a failed attempt is not retried on the cut-off host: the retry waits for the host that reaches the endpoint', { timeout: 600_000 }, async () => {
    // Host a is kept busy (two long runs of its own pool), so the first attempt can only go to host b, which
    // has never checked this endpoint.
    const holds = [await client.createRun('hold', {}), await client.createRun('hold', {})];
    await waitFor('host a to be busy', async () => {
      for (const h of holds) if ((await client.getRun(h.id)).state !== 'running') return false;
      return true;
    }, 60_000, 100);
    const run = await client.createRun('retried', {});
    const done = await finished(run.id);
    assert.equal(done.state, 'succeeded', done.reason ?? '');
    const attempts = (await client.attempts(run.id)).attempts as { worker_id: string; reason_code: string | null }[];
    assert.deepEqual(attempts.map((a) => [a.worker_id, a.reason_code]), [['host-b', 'network_unreachable'], ['host-a', null]]);
    for (const h of holds) await finished(h.id);
  });

  test('kairos doctor: every class reported by the right cell, the cut-off host failing, exit 1', { timeout: 600_000 }, async () => {
    const env = { KAIROS_TOKEN: TOKEN, KAIROS_SERVER: `http://127.0.0.1:${port}` };
    const res = await cli(['doctor', '--json'], { env, timeoutMs: 120_000 });
    assert.equal(res.code, 1, res.stderr);
    const d = JSON.parse(res.stdout) as DoctorView;
    assert.equal(d.ok, false);
    const cell = (w: string, e: string) => d.network.matrix.find((c) => c.worker === w && c.endpoint === e);
    const expectA: [string, string][] = [
      [`postgres://svc.test:${ports.ok}`, 'ok'],
      [`https://svc.test:${ports.tls}/health`, 'ok'],
      [`https://${svc.ip}:${ports.tls}`, 'tls_error'],
      [`tcp://svc.test:${ports.dropped}`, 'timed_out'],
      [`tcp://svc.test:${ports.refused}`, 'refused'],
      ['dns:nosuch.test', 'dns_failed'],
    ];
    for (const [e, result] of expectA) {
      const c = cell('host-a', e);
      assert.equal(c?.result, result, `host-a × ${e}: ${JSON.stringify(c)}`);
      assert.equal(c?.live, true);
      assert.equal(typeof c?.latency_ms, 'number');
    }
    assert.equal(cell('host-b', `postgres://svc.test:${ports.ok}`)?.result, 'unreachable');
    assert.equal(cell('host-b', `https://svc.test:${ports.tls}/health`)?.result, 'unreachable');
    const workers = new Map(d.workers.map((w) => [w.id, w]));
    assert.equal(workers.get('host-a')?.alive, true);
    assert.equal(workers.get('host-a')?.answered, true);
    assert.equal(workers.get('host-a')?.place, 'local');
    assert.ok(workers.get('host-a')?.place_health.some((p) => p.name === 'data directory' && p.ok));
    assert.equal(typeof workers.get('host-b')?.clock_offset_ms, 'number');
    assert.ok(d.problems.some((p) => p.includes('host-b') && p.includes(`postgres://svc.test:${ports.ok}`) && p.includes('network unreachable')));
    assert.equal(d.server.ok, true);
    assert.match(d.server.database_version ?? '', /SQLite/);

    const text = await cli(['doctor'], { env, timeoutMs: 120_000 });
    assert.equal(text.code, 1);
    const row = text.stdout.split('\n').find((l) => l.startsWith(`postgres://svc.test:${ports.ok}`)) ?? '';
    assert.match(row, /ok .* ms .*unreachable/, text.stdout);
  });

  test('a wait job waits on the cut-off host (the run says why) and starts once the route is added', { timeout: 600_000 }, async () => {
    const run = await client.createRun('sync', {});
    const waiting = await waitFor('the run to wait for the network', async () => {
      const r = await client.getRun(run.id);
      return r.waiting_reason ? r : null;
    }, 60_000, 200);
    assert.equal(waiting.state, 'running');
    assert.match(waiting.waiting_reason ?? '', new RegExp(`postgres://svc\\.test:${ports.ok} network unreachable`));
    assert.ok(!(await client.logs(run.id)).lines.some((l) => l.line === 'synced'), 'the job did not start');

    sh('ip', ['netns', 'exec', hostB.ns, 'ip', 'route', 'add', subnetOf(svc.ip), 'via', hostB.peerIp]);
    const r = await finished(run.id);
    assert.equal(r.state, 'succeeded', r.reason ?? '');
    assert.equal(r.waiting_reason, null);
    const lines = (await client.logs(run.id)).lines.map((l) => l.line);
    assert.ok(lines.some((l) => l.includes('waiting for the network')), lines.join('\n'));
    assert.ok(lines.includes('synced'));
    const a = (await client.attempts(run.id)).attempts as { worker_id: string }[];
    assert.deepEqual(a.map((x) => x.worker_id), ['host-b'], 'one attempt, on host b');
  });

  test('kairos validate refuses credentials in an endpoint with the line and column', async () => {
    const p = join(dir.path, 'creds');
    writeProject(p, { 'kairos.yaml': 'project: creds\njobs:\n  a:\n    run: x\n    network:\n      needs: ["postgres://etl:s3cret@db:5432"]\n' });
    const res = await cli(['validate', p]);
    assert.equal(res.code, 2);
    assert.match(res.stdout + res.stderr, /kairos\.yaml:6:15: jobs\.a\.network\.needs\.0: credentials in an endpoint URL are not allowed/);
    assert.doesNotMatch(res.stdout + res.stderr, /s3cret/);
    assert.ok(readFileSync(join(p, 'kairos.yaml'), 'utf8').includes('s3cret'));
  });
});
