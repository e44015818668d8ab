/**
 * What tripped a new user on day one (issue 19), as a user meets it: the CLI as a subprocess against a real
 * embedded server (real SQLite, worker, processes).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEmbedded, type Embedded } from '../../src/embedded.js';
import { KairosClient } from '../../src/api/client.js';
import { cli, exited, spawnCli, tempDir, waitFor, writeProject } from '../helpers.js';

const MANIFEST = `project: firstday
jobs:
  report:
    description: the nightly report
    run: "echo report $KAIROS_PARAM_DAY $KAIROS_PARAM_SPLIT"
    schedule: {cron: "0 6 * * *", timezone: Europe/Paris}
    pool: default
    resources: {cpu: 2, memory: 4Gi}
    params:
      day: {type: date, required: true}
      split: {type: string, default: train, enum: [train, test]}
      epochs: {type: integer, default: 3}
  quick:
    run: "true"
`;

describe('a new user at the command line', () => {
  const dir = tempDir('kairos-firstday-');
  let up: Embedded;
  let client: KairosClient;
  const server = () => ['--server', up.url];

  before(async () => {
    writeProject(join(dir.path, 'proj'), { 'kairos.yaml': MANIFEST });
    up = await startEmbedded({ projectDir: join(dir.path, 'proj'), dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} });
    client = new KairosClient(up.url);
  });
  after(async () => {
    client.close();
    await up.stop(5000);
    dir.cleanup();
  });

  test('kairos jobs lists jobs with schedule, params, pool, resources and environment', async () => {
    const r = await cli(['jobs', ...server()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^PROJECT\s+JOB\s+SCHEDULE\s+POOL\s+RESOURCES\s+ENVIRONMENT\s+PARAMS$/m);
    assert.match(r.stdout, /^firstday\s+report\s+0 6 \* \* \* \(Europe\/Paris\)\s+default\s+2 cpu, 4\.0 GiB\s+-\s+day:date!, split:string\{train\|test\}=train, epochs:integer=3$/m);
    assert.match(r.stdout, /^firstday\s+quick\s+-\s+default\s+-\s+-\s+-$/m);
    const json = JSON.parse((await cli(['jobs', '--json', '--project', 'firstday', ...server()])).stdout) as { name: string; params: Record<string, { type: string }>; resources: { cpu: number }; environment: null }[];
    const report = json.find((j) => j.name === 'report');
    assert.equal(report?.params.day?.type, 'date');
    assert.equal(report?.resources.cpu, 2);
    assert.equal(report?.environment, null);
    assert.deepEqual(JSON.parse((await cli(['jobs', '--json', '--project', 'nope', ...server()])).stdout), []);
  });

  test('kairos run JOB --help lists its parameters with types, defaults and values', async () => {
    const r = await cli(['run', 'report', '--help', ...server()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^usage: kairos run JOB/m);
    assert.match(r.stdout, /^firstday\/report \(deployment v1\): the nightly report$/m);
    assert.match(r.stdout, /^\s+day\s+date\s+\(required\)\s+-/m);
    assert.match(r.stdout, /^\s+split\s+string\s+train\s+train \| test/m);
    assert.match(r.stdout, /^\s+epochs\s+integer\s+3\s+-/m);
    assert.match(r.stdout, /^example: kairos run report -p day=2026-01-01 -p split=train -p epochs=3$/m);
    const unknown = await cli(['run', 'reprot', '--help', ...server()]);
    assert.equal(unknown.code, 0);
    assert.match(unknown.stdout, /no job "reprot" on .*; jobs: report, quick/);
  });

  test('an unknown run id is not bad usage: logs, cancel, rerun and outputs exit 1 with "no run"', async () => {
    for (const cmd of ['logs', 'cancel', 'rerun', 'outputs']) {
      const r = await cli([cmd, 'r_does_not_exist', ...server()]);
      assert.equal(r.code, 1, `${cmd}: ${r.stderr}`);
      assert.match(r.stderr, /^kairos: no run "r_does_not_exist" on http/m, cmd);
    }
  });

  test('backfill reads a date alone in the job\'s time zone, inclusive of that day, says what it read, and its ticks show in the ledger', async () => {
    // Two days well in the past; the job fires at 06:00 Paris time.
    const r = await cli(['backfill', 'report', '--from', '2026-01-10', '--to', '2026-01-11', '--dry-run', '--json', ...server()]);
    assert.equal(r.code, 2, 'the job needs a value for "day": its defaults are not valid');
    const ok = await cli(['backfill', 'quick', '--from', '2026-01-10', '--to', '2026-01-11', ...server()]);
    assert.equal(ok.code, 2, 'a job without a schedule cannot be backfilled');
  });

  test('cron next --after needs an offset, as every other command; a zone is suggested by city', async () => {
    const naive = await cli(['cron', 'next', '0 6 * * *', '--after', '2026-03-08T00:00']);
    assert.equal(naive.code, 2);
    assert.match(naive.stderr, /--after must be an ISO-8601 instant with an offset/);
    const date = await cli(['cron', 'next', '0 6 * * *', '--after', '2026-03-08', '--count', '1', '--json']);
    assert.equal(date.code, 0, date.stderr);
    assert.equal((JSON.parse(date.stdout) as { next: { at: string }[] }).next[0]?.at, '2026-03-08T06:00:00.000Z');
    const sf = await cli(['cron', 'next', '0 6 * * *', '--tz', 'America/San_Francisco']);
    assert.equal(sf.code, 2);
    assert.match(sf.stderr, /unknown time zone "America\/San_Francisco"; did you mean "America\/Los_Angeles"\?/);
  });
});

describe('backfill in the job\'s time zone', () => {
  test('--from/--to dates are whole days in Europe/Paris; the backfilled ticks are in the tick ledger view', async () => {
    const dir = tempDir('kairos-backfill-tz-');
    writeProject(join(dir.path, 'proj'), { 'kairos.yaml': 'project: paris\njobs:\n  nightly:\n    run: "true"\n    schedule: {cron: "30 0 * * *", timezone: Europe/Paris}\n' });
    const up = await startEmbedded({ projectDir: join(dir.path, 'proj'), dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} });
    const client = new KairosClient(up.url);
    try {
      // 00:30 Paris on 2026-01-10 is 2026-01-09T23:30Z: read as UTC midnight, the range would miss it.
      const r = await cli(['backfill', 'nightly', '--from', '2026-01-10', '--to', '2026-01-11', '--json', '--server', up.url]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /from 2026-01-10 00:00:00 \S+ to 2026-01-11 23:59:59 \S+ Europe\/Paris \(2026-01-09T23:00:00Z to 2026-01-11T22:59:59\.999Z\)/);
      const out = JSON.parse(r.stdout) as { created: { scheduled_for: string }[] };
      assert.deepEqual(out.created.map((c) => c.scheduled_for).sort(), ['2026-01-09T23:30:00.000Z', '2026-01-10T23:30:00.000Z']);
      const ticks = (await client.ticks('paris', 'nightly', 10, { from: '2026-01-01T00:00:00Z', to: '2026-01-31T00:00:00Z' })).ticks;
      assert.deepEqual(ticks.map((t) => [t.instant, t.outcome]), [['2026-01-10T23:30:00.000Z', 'backfill'], ['2026-01-09T23:30:00.000Z', 'backfill']]);
      assert.ok(ticks.every((t) => t.run_id));
    } finally {
      client.close();
      await up.stop(5000);
      dir.cleanup();
    }
  });
});

describe('tokens', () => {
  test('the first token says it turned authentication on and how to use it', async () => {
    const dir = tempDir('kairos-token-');
    writeProject(join(dir.path, 'proj'), { 'kairos.yaml': 'project: tok\njobs:\n  a: {run: "true"}\n' });
    const up = await startEmbedded({ projectDir: join(dir.path, 'proj'), dataDir: join(dir.path, 'data'), port: 0, watch: false, log: () => {} });
    try {
      const first = await cli(['token', 'create', 'lead', '--scope', 'admin', '--server', up.url]);
      assert.equal(first.code, 0, first.stderr);
      const token = first.stdout.trim();
      assert.match(token, /^kairos_/);
      assert.match(first.stderr, /WARNING: this is the first token: from now on the server at http:\/\/127\.0\.0\.1:\d+ refuses every request without a token/);
      assert.match(first.stderr, /use it: {2}export KAIROS_TOKEN=<the token printed above>/);
      assert.doesNotMatch(first.stderr, new RegExp(token), 'not a terminal: the token is not repeated on stderr');
      // It is so: without the token the CLI is refused, with it it works.
      assert.equal((await cli(['runs', '--server', up.url])).code, 1);
      assert.equal((await cli(['runs', '--server', up.url], { env: { KAIROS_TOKEN: token } })).code, 0);
      const second = await cli(['token', 'create', 'ci', '--scope', 'deploy', '--server', up.url], { env: { KAIROS_TOKEN: token } });
      assert.equal(second.code, 0, second.stderr);
      assert.doesNotMatch(second.stderr, /WARNING/);
      assert.match(second.stderr, /export KAIROS_TOKEN=/);
      const json = JSON.parse((await cli(['token', 'create', 'ro', '--scope', 'read', '--json', '--server', up.url], { env: { KAIROS_TOKEN: token } })).stdout) as { first: boolean; auth_turned_on: boolean };
      assert.deepEqual([json.first, json.auth_turned_on], [false, false]);
    } finally {
      await up.stop(5000);
      dir.cleanup();
    }
  });
});

describe('init and the secret key', () => {
  test('init writes a .gitignore with .kairos/; up warns when the key would be committed', async () => {
    const dir = tempDir('kairos-init-');
    try {
      const proj = join(dir.path, 'proj');
      const init = await cli(['init', proj]);
      assert.equal(init.code, 0, init.stderr);
      assert.match(readFileSync(join(proj, '.gitignore'), 'utf8'), /^\.kairos\/$/m);
      assert.match(init.stdout, /\.gitignore/);
      // Run again with --force: the line is not added twice.
      assert.equal((await cli(['init', proj, '--force'])).code, 0);
      assert.equal(readFileSync(join(proj, '.gitignore'), 'utf8').match(/^\.kairos\/$/gm)?.length, 1);

      execFileSync('git', ['init', '-q', proj]);
      const { trackableByGit } = await import('../../src/cli/git.js');
      assert.equal(await trackableByGit(join(proj, '.kairos', 'secret.key')), false, 'ignored by the .gitignore init wrote');
      assert.equal(await trackableByGit(join(dir.path, 'outside', 'secret.key')), false, 'outside a work tree');
      writeFileSync(join(proj, '.gitignore'), 'other\n');
      assert.equal(await trackableByGit(join(proj, '.kairos', 'secret.key')), true, 'not ignored: git add . would commit it');
      // `kairos up` says so when it starts.
      const upProc = spawnCli(['up', proj, '--port', '0', '--concurrency', '0']);
      try {
        await waitFor('up to start', () => /kairos: up at /.test(upProc.output()), 60_000);
        assert.match(upProc.output(), /warning: \S+secret\.key \(the key your secrets are sealed with\) is inside a git work tree and not ignored; add \.kairos\/ to \.gitignore/);
      } finally {
        upProc.child.kill('SIGINT');
        await exited(upProc.child);
      }
    } finally {
      dir.cleanup();
    }
  });
});

describe('kairos up and kairos deploy on one project', () => {
  test('up leaves a version from kairos deploy active, says so once, and --take-over deploys over it', async () => {
    const dir = tempDir('kairos-takeover-');
    const proj = join(dir.path, 'proj');
    writeProject(proj, { 'kairos.yaml': 'project: shared\njobs:\n  a: {run: "echo one"}\n' });
    const logged: string[] = [];
    const up = await startEmbedded({ projectDir: proj, dataDir: join(dir.path, 'data'), port: 0, log: (l) => logged.push(l) });
    const client = new KairosClient(up.url);
    try {
      // A teammate deploys another copy of the project with `kairos deploy`.
      const other = join(dir.path, 'other');
      writeProject(other, { 'kairos.yaml': 'project: shared\njobs:\n  a: {run: "echo deployed"}\n' });
      const d = await cli(['deploy', other, '--skip', 'dependencies,code', '--server', up.url]);
      assert.equal(d.code, 0, d.stdout + d.stderr);
      assert.match(d.stderr, /note: shared v1 came from `kairos up`/);
      const deployed = (await client.deployments()).deployments[0] as { version: number; source: string } | undefined;
      assert.equal(deployed?.version, 2);
      assert.match(deployed?.source ?? '', /^deploy:/);
      // Two saves under `up`: neither replaces the deploy; the conflict is said once.
      writeFileSync(join(proj, 'kairos.yaml'), 'project: shared\njobs:\n  a: {run: "echo two"}\n');
      await waitFor('the conflict to be said', () => logged.some((l) => /project shared v2 was deployed by local from `kairos deploy`/.test(l)), 20_000);
      writeFileSync(join(proj, 'kairos.yaml'), 'project: shared\njobs:\n  a: {run: "echo three"}\n');
      const r = await up.redeploy();
      assert.ok(!r.ok && r.conflict?.version === 2);
      assert.equal(logged.filter((l) => /was deployed .* not by this `kairos up`/.test(l)).length, 1, 'said once');
      assert.equal((await client.deployments()).deployments.length, 2, 'the deploy stays active');
      assert.match(logged.find((l) => /not by this/.test(l)) ?? '', /--take-over/);
    } finally {
      client.close();
      await up.stop(5000);
    }
    // Restarted with --take-over, up deploys its directory over it.
    const again = await startEmbedded({ projectDir: proj, dataDir: join(dir.path, 'data'), port: 0, watch: false, takeOver: true, log: () => {} });
    const c2 = new KairosClient(again.url);
    try {
      const active = (await c2.deployments()).deployments.find((x) => (x as { active: boolean }).active) as { version: number; source: string } | undefined;
      assert.equal(active?.version, 3);
      assert.match(active?.source ?? '', /^up:/);
    } finally {
      c2.close();
      await again.stop(5000);
      dir.cleanup();
    }
  });

  test("up's watcher deploys again after a failed deploy, and a burst of saves or an editor's swap file makes no extra version", async () => {
    const dir = tempDir('kairos-watch-');
    const proj = join(dir.path, 'proj');
    writeProject(proj, { 'kairos.yaml': 'project: watched\njobs:\n  a: {run: "echo one"}\n' });
    const logged: string[] = [];
    const up = await startEmbedded({ projectDir: proj, dataDir: join(dir.path, 'data'), port: 0, log: (l) => logged.push(l), alerts: { allowHosts: [] } });
    const client = new KairosClient(up.url);
    const versions = async () => (await client.deployments()).deployments.length;
    try {
      // A deploy that fails (the server refuses a loopback webhook) must not stop later ones.
      writeFileSync(join(proj, 'kairos.yaml'), 'project: watched\njobs:\n  a:\n    run: "echo two"\n    notify: [{on: failure, webhook: "http://127.0.0.1:9/hook"}]\n');
      await waitFor('the refused deploy', () => logged.some((l) => /deploy failed: .*jobs\.a\.notify\[0\]: the webhook http:\/\/127\.0\.0\.1:9 would be refused/.test(l)), 20_000);
      assert.equal(await versions(), 1);
      writeFileSync(join(proj, 'kairos.yaml'), 'project: watched\njobs:\n  a: {run: "echo three"}\n');
      await waitFor('version 2 after the failure', async () => (await versions()) === 2, 20_000);
      // Five writes in quick succession: one version.
      for (let i = 0; i < 5; i++) writeFileSync(join(proj, 'kairos.yaml'), `project: watched\njobs:\n  a: {run: "echo burst ${i}"}\n`);
      await waitFor('version 3 after the burst', async () => (await versions()) === 3, 20_000);
      // An editor's swap file, and the same content written again: no version.
      writeFileSync(join(proj, '.kairos.yaml.swp'), 'swap');
      writeFileSync(join(proj, 'kairos.yaml'), 'project: watched\njobs:\n  a: {run: "echo burst 4"}\n');
      const r = await up.redeploy();
      assert.ok(r.ok && !r.created, 'same files, same hash: no new version');
      assert.equal(await versions(), 3);
      assert.equal((await client.deployments()).deployments.filter((d) => (d as { version: number }).version > 3).length, 0);
    } finally {
      client.close();
      await up.stop(5000);
      dir.cleanup();
    }
  });
});
