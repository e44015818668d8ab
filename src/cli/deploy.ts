import { resolve } from 'node:path';
import { hostname } from 'node:os';
import { scanProject } from '../bundle/bundle.js';
import { streamScanned } from '../bundle/stream.js';
import { formatPlan, planDeploy, type DeployPlan } from '../control/plan.js';
import { placementWarnings } from '../model/placement.js';
import { liveWorkersOf } from '../check/server.js';
import { formatProblem, loadManifestFile, type CompiledManifest } from '../manifest/index.js';
import type { Command } from './command.js';
import { gitState } from './git.js';
import { EXIT } from './output.js';
import { startProgress } from './progress.js';
import { checkProgress } from './check-progress.js';
import { KairosClient } from '../api/client.js';
import { formatReport, runChecks, type CheckGroup, type CheckReport } from '../check/index.js';
import { stringOption } from './args.js';
import { UsageError } from './output.js';
import { KairosError } from '../model/errors.js';

function mb(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

export const deployCommand: Command = {
  name: 'deploy',
  summary: 'validate, pack and upload a project directory; the server activates it as a new version (--plan: only show what would change)',
  usage: 'deploy [DIR] [--plan] [--force] [--skip dependencies,code] [--data DIR] [--json]',
  options: { plan: { type: 'boolean' }, force: { type: 'boolean' }, skip: { type: 'string' }, data: { type: 'string' } },
  positionals: { min: 0, max: 1 },
  async run(p, { io }) {
    const dir = resolve(p.positionals[0] ?? '.');
    const loaded = await loadManifestFile(dir);
    if (!loaded.ok) {
      if (p.globals.json) io.out(JSON.stringify({ ok: false, problems: loaded.problems }, null, 2) + '\n');
      else for (const problem of loaded.problems) io.out(formatProblem(problem) + '\n');
      io.err(`kairos: ${loaded.problems.length} problem${loaded.problems.length === 1 ? '' : 's'}; nothing was deployed\n`);
      return EXIT.usage;
    }
    const manifest = loaded.manifest;
    const client = new KairosClient(p.globals.server, p.globals.token);
    const active = await client.active(manifest.project);
    const secrets = await client.secretNamesForPlan(manifest.project);
    const planned: DeployPlan = planDeploy((active?.manifest as CompiledManifest | undefined) ?? null, active?.version ?? null, manifest, secrets, Date.now());
    // Jobs no live worker of their pool can run (a token that may not list workers: not checked).
    const workers = await client.workers().catch(() => null);
    const plan: DeployPlan = workers ? { ...planned, placement_warnings: placementWarnings(Object.values(manifest.jobs), liveWorkersOf(workers)) } : planned;
    if (!p.globals.json) io.out(formatPlan(plan));
    if (!p.globals.json && active?.source.startsWith('up:') && p.values.plan !== true) {
      io.err(`kairos: note: ${manifest.project} v${active.version} came from \`kairos up\` on ${active.source.slice(3)}; after this deploy that \`kairos up\` keeps this version active and stops deploying its own changes (until restarted with --take-over)\n`);
    }
    if (p.values.plan === true) {
      if (p.globals.json) io.out(JSON.stringify({ plan }, null, 2) + '\n');
      return EXIT.ok;
    }

    // A token that may not deploy hears so before checks run and files are packed.
    const me = await client.whoami();
    if (me.scope !== 'deploy' && me.scope !== 'admin') throw new KairosError('forbidden', `token "${me.name}" has scope ${me.scope}; POST /api/v1/deployments needs deploy`);
    if (me.project !== null && me.project !== manifest.project) throw new KairosError('forbidden', `token "${me.name}" is limited to project ${me.project}; this bundle is project ${manifest.project}`);

    // The checks of `kairos check` come first: a failure stops the deploy unless --force.
    const skip = (stringOption(p.values.skip) ?? '').split(',').filter(Boolean);
    for (const g of skip) if (g !== 'dependencies' && g !== 'code') throw new UsageError(`--skip takes dependencies and/or code, got "${g}"`);
    const checkClient = new KairosClient(p.globals.server, p.globals.token);
    const shown = checkProgress(io);
    const t0 = Date.now();
    let checks: CheckReport;
    try {
      // The environment cache of this machine's worker (`kairos up DIR` keeps it in DIR/.kairos): a deploy
      // whose dependencies did not change resolves and builds nothing.
      const dataDir = stringOption(p.values.data);
      checks = await runChecks(dir, { server: { client: checkClient, explicit: true }, skip: skip as CheckGroup[], onProgress: (e) => shown.on(e), ...(dataDir ? { dataDir: resolve(dataDir) } : {}) });
    } finally {
      shown.done();
      checkClient.close();
    }
    io.err(`kairos: checks ${checks.ok ? 'passed' : 'failed'} in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    if (!checks.ok) {
      if (!p.globals.json) io.out(formatReport(checks, { color: io.tty }));
      if (p.values.force !== true) {
        if (p.globals.json) io.out(JSON.stringify({ plan, checks, deployment: null }, null, 2) + '\n');
        io.err('kairos: checks failed; nothing was deployed (--force deploys anyway)\n');
        return EXIT.failed;
      }
      io.err('kairos: checks failed; deploying anyway (--force)\n');
    }

    const scanned = await scanProject(dir);
    const git = await gitState(dir);
    const total = scanned.totalBytes + scanned.entries.reduce((n, e) => n + JSON.stringify(e).length + 1, 0);
    let sent = 0;
    const progress = startProgress(io, `uploading ${scanned.entries.length} files, ${mb(total)}`);
    let deployment: Awaited<ReturnType<KairosClient['upload']>>;
    try {
      deployment = await client.upload(
        { hash: scanned.hash, source: `deploy:${hostname()}:${dir}`, ...(git ? { commit: git.commit, dirty: git.dirty ? '1' : '0' } : {}) },
        streamScanned(dir, scanned.entries, (n) => {
          sent += n;
          const pct = total ? Math.min(100, Math.floor((sent / total) * 100)) : 100;
          const bar = '#'.repeat(Math.round(pct / 5)).padEnd(20, '.');
          progress.update(`uploading [${bar}] ${pct}% ${mb(sent)} / ${mb(total)}`);
        }),
      );
    } finally {
      progress.done();
    }
    if (p.globals.json) {
      io.out(JSON.stringify({ plan, checks, deployment }, null, 2) + '\n');
      return EXIT.ok;
    }
    const commit = deployment.git_commit ? ` from ${deployment.git_commit.slice(0, 12)}${deployment.git_dirty ? ' (dirty)' : ''}` : '';
    io.out(
      deployment.created
        ? `deployed ${deployment.project} v${deployment.version} (${deployment.bundle_hash.slice(0, 12)}) by ${deployment.deployed_by ?? '?'}${commit}\n`
        : `${deployment.project} v${deployment.version} is already active with these files and manifest; nothing changed\n`,
    );
    return EXIT.ok;
  },
};
