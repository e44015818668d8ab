/**
 * Jupyter on another host, reached through the server (docs/services.md). The worker runs in a network
 * namespace whose firewall drops every connection opened towards it: the server cannot connect to it, only
 * the other way round. `kairos jupyter --env nb` starts Debian's Jupyter there; through /services/… a client
 * with a run token lists the kernels, starts one and executes `6*7` over the kernel WebSocket (Jupyter's
 * messaging protocol on the shell channel) and gets 42; without a token it gets 401, and Jupyter's own token
 * appears in no answer and no log; Ctrl-C on `kairos jupyter` cancels the run, stops Jupyter, and the URL
 * answers 410.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import { KairosClient } from '../../src/api/client.js';
import { API } from '../../src/api/contract/index.js';
import { cli, exited, freePort, isAlive, processesOfRun, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';
import { createHost, netnsUnavailable, type NetHost } from '../netns.js';

const BOOT = 'bootstrap-token-for-the-jupyter-test-0123456789abcdef';
const jupyterMissing = (() => {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import notebook, ipykernel'], { stdio: 'ignore' });
    return null;
  } catch {
    return "Debian's jupyter-notebook and python3-ipykernel are not installed (.ci/run installs them)";
  }
})();
const skip = process.env.CI ? false : (netnsUnavailable() ?? jupyterMissing ?? false);

describe('Jupyter on a host the server cannot connect to, through /services/', { skip }, () => {
  const dir = tempDir('kairos-jupyter-');
  const procs: { child: ChildProcess; output(): string }[] = [];
  let host: NetHost;
  let port = 0;
  let server = '';
  let runToken = '';
  let jupyter: { child: ChildProcess; output(): string };
  let url = '';
  let runId = '';
  /** Every answer a client got (headers and bodies), to check Jupyter's token is in none. */
  const answers: string[] = [];

  before(async () => {
    if (process.env.CI) assert.equal(jupyterMissing, null, jupyterMissing ?? '');
    port = await freePort();
    server = `http://127.0.0.1:${port}`;
    const srv = spawnCli(['server', '--host', '0.0.0.0', '--port', String(port), '--data', join(dir.path, 'server')], { env: { KAIROS_TOKEN: BOOT } });
    procs.push(srv);
    await waitFor('the server', () => new KairosClient(server, BOOT).health(), 30_000);
    const admin = new KairosClient(server, BOOT);
    const workerToken = (await admin.call(API.access.createToken, { body: { name: 'nb-worker', scope: 'worker' } })).token;
    runToken = (await admin.call(API.access.createToken, { body: { name: 'scientist', scope: 'run' } })).token;
    writeProject(dir.path, {
      'proj/kairos.yaml': `project: lab
environments:
  nb:
    python: /usr/bin/python3
    system_site_packages: true
jobs:
  hello:
    run: echo hi
`,
    });
    const deployed = await cli(['deploy', join(dir.path, 'proj'), '--server', server], { env: { KAIROS_TOKEN: BOOT } });
    assert.equal(deployed.code, 0, deployed.stderr);

    host = createHost();
    // The host's firewall: no connection may be opened towards it (only answers to its own get in).
    execFileSync('ip', ['netns', 'exec', host.ns, 'iptables', '-A', 'INPUT', '-i', 'eth0', '-p', 'tcp', '--syn', '-j', 'DROP']);
    procs.push(host.spawnCli(['worker', '--server', `http://${host.peerIp}:${port}`, '--id', 'nb-host', '--data', join(dir.path, 'worker'), '--concurrency', '2', '--grace', '5'], { KAIROS_TOKEN: workerToken }));
    await waitFor('the worker to register', async () => (await admin.workers()).some((w) => w.id === 'nb-host' && w.alive), 60_000, 200);
  });

  after(async () => {
    for (const p of [jupyter, ...procs]) {
      if (p && p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await exited(p.child);
      }
    }
    host?.destroy();
    dir.cleanup();
  });

  test('the server cannot open a connection to the worker host', async () => {
    const result = await new Promise<string>((resolve) => {
      const s = connect({ host: host.ip, port: 22, timeout: 2000 });
      s.on('connect', () => resolve('connected'));
      s.on('timeout', () => resolve('timeout'));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    }).finally(() => undefined);
    assert.notEqual(result, 'connected');
    assert.notEqual(result, 'ECONNREFUSED', 'dropped by the firewall, not refused by the host');
  });

  test('kairos jupyter prints the URL once Jupyter is up on the worker host', { timeout: 300_000 }, async () => {
    jupyter = spawnCli(['jupyter', '--env', 'nb', '--server', server], { env: { KAIROS_TOKEN: runToken } });
    const line = await waitFor('the URL', () => /^(http:\/\/\S+\/services\/lab\/jupyter-nb\/)$/m.exec(jupyter.output())?.[1], 240_000, 200);
    url = line;
    assert.equal(url, `${server}/services/lab/jupyter-nb/`);
    runId = /run (\S+) \(lab\/jupyter-nb\)/.exec(jupyter.output())?.[1] ?? '';
    assert.ok(runId);
    const attempts = await new KairosClient(server, runToken).call(API.runs.attempts, { params: { id: runId } });
    assert.equal(attempts.attempts[0]?.worker_id, 'nb-host');
    assert.ok(attempts.attempts[0]?.service_up_at);
  });

  const call = async (path: string, init: { method?: string; token?: string | null; body?: unknown } = {}) => {
    const headers: Record<string, string> = {};
    if (init.token !== null) headers.authorization = `Bearer ${init.token ?? runToken}`;
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(url + path, { method: init.method ?? 'GET', headers, ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}), redirect: 'manual' });
    const text = await res.text();
    answers.push(JSON.stringify([...res.headers]) + text);
    return { status: res.status, text };
  };

  test('with a run token: list kernels, start one, execute 6*7 over its WebSocket and get 42', { timeout: 240_000 }, async () => {
    const listed = await call('api/kernels');
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(JSON.parse(listed.text), []);
    const started = await call('api/kernels', { method: 'POST', body: { name: 'python3' } });
    assert.equal(started.status, 201, started.text);
    const kernel = JSON.parse(started.text) as { id: string };
    const tree = await call('tree');
    assert.equal(tree.status, 200);

    const wsUrl = `${url.replace(/^http/, 'ws')}api/kernels/${kernel.id}/channels`;
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${runToken}` } });
    const msgId = randomUUID();
    const result = await new Promise<string>((resolve, reject) => {
      ws.on('error', reject);
      ws.on('open', () => {
        ws.send(JSON.stringify({
          channel: 'shell',
          header: { msg_id: msgId, msg_type: 'execute_request', username: 'test', session: randomUUID(), date: new Date().toISOString(), version: '5.3' },
          parent_header: {},
          metadata: {},
          content: { code: '6*7', silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
          buffers: [],
        }));
      });
      ws.on('message', (data: Buffer) => {
        const text = data.toString();
        answers.push(text);
        const m = JSON.parse(text) as { msg_type?: string; parent_header?: { msg_id?: string }; content?: { data?: Record<string, string> } };
        if (m.msg_type === 'execute_result' && m.parent_header?.msg_id === msgId) resolve(m.content?.data?.['text/plain'] ?? '');
      });
    });
    ws.close();
    assert.equal(result, '42');
  });

  test("without a token: 401, on HTTP and on the WebSocket, and Jupyter's token is in no answer and no log", { timeout: 120_000 }, async () => {
    assert.equal((await call('api/kernels', { token: null })).status, 401);
    assert.equal((await call('tree', { token: null })).status, 401);
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}api/kernels`);
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => undefined);
    });
    assert.equal(status, 401);

    // Jupyter's token, read from its process's environment on the worker host.
    const pids = processesOfRun(runId);
    let token = '';
    for (const pid of pids) {
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').find((v) => v.startsWith('JUPYTER_TOKEN='));
      if (env) token = env.slice('JUPYTER_TOKEN='.length);
    }
    assert.ok(token.length >= 20, 'found the Jupyter process and its token');
    for (const a of answers) assert.ok(!a.includes(token), "Jupyter's token reached a client");
    const log = await new KairosClient(server, runToken).call(API.runs.logs, { params: { id: runId }, query: {} });
    assert.ok(!log.lines.some((l) => l.line.includes(token)), "Jupyter's token is in the run's log");
  });

  test('Ctrl-C cancels the run, Jupyter stops, and the URL answers 410', { timeout: 120_000 }, async () => {
    const pids = processesOfRun(runId);
    assert.ok(pids.length > 0);
    jupyter.child.kill('SIGINT');
    assert.equal(await exited(jupyter.child), 0, jupyter.output());
    const run = await new KairosClient(server, runToken).getRun(runId);
    assert.equal(run.state, 'cancelled');
    await waitFor('Jupyter to stop', () => pids.every((p) => !isAlive(p)), 30_000);
    const after = await call('api/kernels');
    assert.equal(after.status, 410, after.text);
  });
});
