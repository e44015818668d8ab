/**
 * A throwaway Slurm cluster for tests and benchmarks, on this one machine (see /docs/places.md, Slurm):
 * munged (as the `munge` user, its own key and socket), slurmctld, and two slurmd nodes `n1` and `n2` on
 * loopback at free ports, everything (configuration, state, spool, logs, the shared directory) under one
 * temporary directory. Optionally slurmdbd with a private MariaDB (its own datadir, port and socket) so that
 * `sacct` works, and fake GPUs (device nodes made with mknod, declared in gres.conf).
 *
 * Every daemon runs in the foreground as our child in its own process group (munged through runuser: it is
 * stopped by its own pid, from its pid file), and `stop()` ends them all by pid; nothing outlives the test.
 *
 *   const c = await startSlurmCluster({ accounting: true, gpus: 2 });
 *   // c.env: { SLURM_CONF, ... } for sbatch/squeue/sacct; c.partition; c.sharedDir; c.killSlurmd('n1'); c.stop()
 *
 * Run directly (`node tools/slurm-cluster.mjs [--accounting] [--gpus N]`) it starts a cluster, prints the
 * environment to use, and stops it on Ctrl-C.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

const SBIN = ['/usr/sbin', '/usr/bin', '/sbin', '/bin'];

function which(cmd) {
  for (const d of [...(process.env.PATH ?? '').split(':'), ...SBIN]) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return null;
}

/** What is missing for a cluster here (an empty list when everything is installed). */
export function missingSlurm({ accounting = false } = {}) {
  const need = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scontrol', 'sinfo', 'scancel'];
  if (accounting) need.push('slurmdbd', 'sacct', 'mariadbd', 'mariadb-install-db');
  const missing = need.filter((c) => !which(c));
  if (process.getuid?.() !== 0) missing.push('(root: slurmd and munged need it)');
  return missing;
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

/** Alive and not a zombie. */
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

function readPid(file) {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The descendants of a process (from /proc), children first. */
function descendants(pid) {
  const kids = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(name));
    } catch {
      // gone
    }
  }
  const out = [];
  const walk = (p) => {
    for (const k of kids.get(p) ?? []) {
      out.push(k);
      walk(k);
    }
  };
  walk(pid);
  return out;
}

/**
 * Starts the cluster; resolves when both nodes are idle. Throws (after cleaning up) with the daemons' logs
 * when it does not come up.
 */
export async function startSlurmCluster({ accounting = false, gpus = 0, nodes = ['n1', 'n2'], cpus = 2, memoryMb = 2048, log = () => {} } = {}) {
  const missing = missingSlurm({ accounting });
  if (missing.length > 0) throw new Error(`Slurm is not installed here (missing: ${missing.join(', ')}; on Debian: apt-get install slurm-wlm munge${accounting ? ' slurmdbd mariadb-server' : ''})`);
  const dir = mkdtempSync(join(tmpdir(), 'kairos-slurm-'));
  chmodSync(dir, 0o755);
  const host = hostname().split('.')[0];
  const procs = []; // { name, child, pidFile? }
  const madeDevices = [];
  let stopped = null;

  const cleanup = async () => {
    // Reverse order: nodes, controller, slurmdbd, database, munge last (the others talk to it on the way out).
    for (const p of [...procs].reverse()) await stopProc(p);
    procs.length = 0;
    // Whatever still runs in the nodes' cgroups (a job of a node that was killed and never came back).
    for (const n of nodes) for (const pid of nodeCgroupPids(n)) signal(pid, 'SIGKILL');
    for (const d of madeDevices) rmSync(d, { force: true });
    rmSync(dir, { recursive: true, force: true });
  };
  const stopProc = async (p) => {
    const pid = p.pidFile ? readPid(p.pidFile) ?? p.child.pid : p.child.pid;
    const kids = descendants(p.child.pid);
    signal(pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while ((running(pid) || running(p.child.pid)) && Date.now() < deadline) await sleep(50);
    signal(-p.child.pid, 'SIGKILL');
    signal(pid, 'SIGKILL');
    for (const k of kids) signal(k, 'SIGKILL');
    while (p.child.exitCode === null && p.child.signalCode === null && Date.now() < deadline + 5000) await sleep(20);
  };
  const daemon = (name, cmd, args, opts = {}) => {
    const logFile = join(dir, 'log', `${name}.out`);
    const out = [];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: opts.env ?? process.env });
    const keep = (chunk) => {
      out.push(chunk.toString());
      try {
        writeFileSync(logFile, chunk, { flag: 'a' });
      } catch {
        // directory gone at the end
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (e) => keep(Buffer.from(String(e))));
    const p = { name, child, pidFile: opts.pidFile, out };
    procs.push(p);
    return p;
  };
  const logs = () =>
    procs
      .map((p) => {
        let text = p.out.join('');
        for (const f of [join(dir, 'log', `${p.name}.log`)]) {
          try {
            text += readFileSync(f, 'utf8');
          } catch {
            // none
          }
        }
        return `--- ${p.name} ---\n${text.slice(-3000)}`;
      })
      .join('\n');
  const fail = async (why) => {
    const text = logs();
    await cleanup();
    throw new Error(`Slurm cluster did not start: ${why}\n${text}`);
  };

  try {
    for (const d of ['log', 'state', 'spool', 'shared', 'munge', 'etc']) mkdirSync(join(dir, d), { recursive: true });
    chmodSync(join(dir, 'log'), 0o755);
    chmodSync(join(dir, 'shared'), 0o1777);

    // munge: its own key, socket, pid and log, owned by the munge user under a folder with mode 755.
    const mungeUid = Number(spawnSync('id', ['-u', 'munge'], { encoding: 'utf8' }).stdout.trim());
    const mungeGid = Number(spawnSync('id', ['-g', 'munge'], { encoding: 'utf8' }).stdout.trim());
    const mdir = join(dir, 'munge');
    chmodSync(mdir, 0o755);
    chownSync(mdir, mungeUid, mungeGid);
    const key = join(mdir, 'munge.key');
    writeFileSync(key, randomBytes(1024), { mode: 0o400 });
    chownSync(key, mungeUid, mungeGid);
    const socket = join(mdir, 'munge.socket');
    const mungePid = join(mdir, 'munged.pid');
    daemon('munged', 'runuser', ['-u', 'munge', '--', which('munged'), '--foreground', `--key-file=${key}`, `--socket=${socket}`,
      `--pid-file=${mungePid}`, `--log-file=${join(mdir, 'munged.log')}`, `--seed-file=${join(mdir, 'munged.seed')}`, '--num-threads=2'], { pidFile: mungePid });
    for (let i = 0; !existsSync(socket); i++) {
      if (i > 200) await fail('munged made no socket');
      await sleep(50);
    }

    const ctldPort = await freePort();
    const nodePorts = {};
    for (const n of nodes) nodePorts[n] = await freePort();
    const partition = 'kairos';
    const clusterName = 'kairos';
    const conf = join(dir, 'etc', 'slurm.conf');
    let dbdPort = null;

    if (accounting) {
      // MariaDB: own datadir, port and socket, loopback only; no grant tables (only slurmdbd talks to it).
      const dbdir = join(dir, 'mysql');
      const dbSock = join(dir, 'mysql.sock');
      const dbPort = await freePort();
      const init = spawnSync(which('mariadb-install-db'), ['--no-defaults', `--datadir=${dbdir}`, '--user=root', '--auth-root-authentication-method=normal', '--skip-test-db'], { encoding: 'utf8' });
      if (init.status !== 0) await fail(`mariadb-install-db: ${init.stderr || init.stdout}`);
      const dbPid = join(dir, 'mysql.pid');
      daemon('mariadb', which('mariadbd'), ['--no-defaults', `--datadir=${dbdir}`, `--port=${dbPort}`, `--socket=${dbSock}`, '--bind-address=127.0.0.1',
        '--user=root', `--pid-file=${dbPid}`, '--skip-grant-tables', '--skip-name-resolve', '--innodb-flush-log-at-trx-commit=0', '--innodb-buffer-pool-size=64M',
        '--innodb-lock-wait-timeout=900', '--skip-log-bin', `--log-error=${join(dir, 'log', 'mariadb.log')}`], { pidFile: dbPid });
      for (let i = 0; ; i++) {
        const r = spawnSync(which('mariadb') ?? which('mysql') ?? 'mysql', ['--no-defaults', `--socket=${dbSock}`, '-uroot', '-e', 'select 1'], { encoding: 'utf8' });
        if (r.status === 0) break;
        if (i > 600) await fail(`MariaDB did not answer: ${r.stderr}`);
        await sleep(100);
      }
      dbdPort = await freePort();
      const dbdConf = join(dir, 'etc', 'slurmdbd.conf');
      writeFileSync(dbdConf, [
        `AuthType=auth/munge`, `AuthInfo=socket=${socket}`, `DbdHost=${host}`, `DbdAddr=127.0.0.1`, `DbdPort=${dbdPort}`, `SlurmUser=root`,
        `LogFile=${join(dir, 'log', 'slurmdbd.log')}`, `PidFile=${join(dir, 'slurmdbd.pid')}`, `DebugLevel=info`,
        `StorageType=accounting_storage/mysql`, `StorageHost=127.0.0.1`, `StoragePort=${dbPort}`, `StorageUser=root`, `StorageLoc=slurm_acct_db`,
        '',
      ].join('\n'), { mode: 0o600 });
      daemon('slurmdbd', which('slurmdbd'), ['-D'], { env: { ...process.env, SLURM_CONF: conf, SLURMDBD_CONF: dbdConf } });
    }

    // Fake GPUs: character devices with NVIDIA's major number; nothing reads them, Slurm only hands them out.
    if (gpus > 0) {
      for (let i = 0; i < gpus; i++) {
        const d = `/dev/nvidia${i}`;
        if (!existsSync(d)) {
          const r = spawnSync('mknod', [d, 'c', '195', String(i)], { encoding: 'utf8' });
          if (r.status !== 0) await fail(`mknod ${d}: ${r.stderr}`);
          madeDevices.push(d);
        }
      }
      writeFileSync(join(dir, 'etc', 'gres.conf'), `Name=gpu File=/dev/nvidia[0-${gpus - 1}]\n`);
    }
    writeFileSync(join(dir, 'etc', 'cgroup.conf'), ['CgroupPlugin=cgroup/v1', 'CgroupMountpoint=/sys/fs/cgroup', 'ConstrainCores=no', 'ConstrainRAMSpace=yes', 'ConstrainSwapSpace=yes', 'AllowedSwapSpace=0', 'ConstrainDevices=no', ''].join('\n'));
    const lines = [
      `ClusterName=${clusterName}`,
      `SlurmctldHost=${host}(127.0.0.1)`,
      `SlurmctldPort=${ctldPort}`,
      `SlurmUser=root`, `SlurmdUser=root`,
      `AuthType=auth/munge`, `CredType=cred/munge`, `AuthInfo=socket=${socket}`,
      `StateSaveLocation=${join(dir, 'state')}`,
      `SlurmdSpoolDir=${join(dir, 'spool')}/%n`,
      `SlurmctldPidFile=${join(dir, 'slurmctld.pid')}`,
      `SlurmdPidFile=${join(dir, 'slurmd-%n.pid')}`,
      `SlurmctldLogFile=${join(dir, 'log', 'slurmctld.log')}`,
      `SlurmdLogFile=${join(dir, 'log', 'slurmd-%n.log')}`,
      `SlurmctldDebug=info`, `SlurmdDebug=info`,
      `ProctrackType=proctrack/cgroup`, `TaskPlugin=task/cgroup`,
      `SelectType=select/cons_tres`, `SelectTypeParameters=CR_Core_Memory`,
      `SchedulerType=sched/builtin`, `EnforcePartLimits=ALL`,
      `SlurmdParameters=config_overrides`,
      `SlurmdTimeout=20`, `SlurmctldTimeout=20`, `MessageTimeout=10`,
      `KillWait=2`, `OverTimeLimit=0`, `InactiveLimit=0`, `MinJobAge=300`, `ReturnToService=2`,
      `JobRequeue=0`, `MpiDefault=none`, `LaunchParameters=use_interactive_step`,
      `JobAcctGatherType=jobacct_gather/cgroup`, `JobAcctGatherFrequency=5`,
      `PlugStackConfig=${join(dir, 'etc', 'plugstack.conf')}`,
    ];
    writeFileSync(join(dir, 'etc', 'plugstack.conf'), '');
    if (gpus > 0) lines.push('GresTypes=gpu');
    if (accounting) lines.push(`AccountingStorageType=accounting_storage/slurmdbd`, `AccountingStorageHost=127.0.0.1`, `AccountingStoragePort=${dbdPort}`, `AccountingStoragePass=${socket}`, `AccountingStorageTRES=gres/gpu`);
    else lines.push('AccountingStorageType=accounting_storage/none');
    for (const n of nodes) {
      lines.push(`NodeName=${n} NodeHostname=${host} NodeAddr=127.0.0.1 Port=${nodePorts[n]} CPUs=${cpus} RealMemory=${memoryMb}${gpus > 0 ? ` Gres=gpu:${gpus}` : ''} State=UNKNOWN`);
    }
    lines.push(`PartitionName=${partition} Nodes=${nodes.join(',')} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO`);
    writeFileSync(conf, `${lines.join('\n')}\n`);

    const env = { SLURM_CONF: conf };
    const denv = { ...process.env, SLURM_CONF: conf };
    if (accounting) {
      // slurmctld registers the cluster with slurmdbd itself; wait until slurmdbd listens first.
      for (let i = 0; ; i++) {
        const r = spawnSync(which('sacctmgr'), ['-n', '-P', 'show', 'cluster', 'format=cluster'], { encoding: 'utf8', env: denv, timeout: 10_000 });
        if (r.status === 0) {
          if (!r.stdout.includes(clusterName)) spawnSync(which('sacctmgr'), ['-i', 'add', 'cluster', clusterName], { encoding: 'utf8', env: denv, timeout: 10_000 });
          break;
        }
        if (i > 300) await fail(`slurmdbd did not answer: ${r.stderr}`);
        await sleep(200);
      }
    }
    daemon('slurmctld', which('slurmctld'), ['-D', '-i', '-f', conf], { env: denv });
    for (const n of nodes) daemon(`slurmd-${n}`, which('slurmd'), ['-D', '-N', n, '-f', conf], { env: denv });
    const ok = await waitIdle(denv, nodes, 90_000);
    if (!ok.idle) await fail(`nodes not idle: ${ok.last}`);
    log(`Slurm cluster ${dir} (controller on 127.0.0.1:${ctldPort}, nodes ${nodes.join(', ')}${accounting ? ', slurmdbd' : ''}${gpus ? `, ${gpus} GPUs` : ''})`);

    const restartSlurmd = (node) => {
      const old = procs.findIndex((p) => p.name === `slurmd-${node}`);
      if (old >= 0) procs.splice(old, 1);
      daemon(`slurmd-${node}`, which('slurmd'), ['-D', '-N', node, '-f', conf], { env: denv });
    };
    return {
      dir,
      env,
      partition,
      clusterName,
      nodes,
      sharedDir: join(dir, 'shared'),
      accounting,
      logs,
      /**
       * A node failing: SIGKILL to its slurmd, so it stops answering the controller, which marks it down after
       * SlurmdTimeout (about 40 s here) and ends its jobs NODE_FAIL. As after a network partition, the jobs'
       * own processes carry on until the node is back (`restartSlurmd`): then Slurm kills them as orphans.
       */
      async killSlurmd(node) {
        const p = procs.find((q) => q.name === `slurmd-${node}`);
        if (!p) throw new Error(`no slurmd ${node}`);
        signal(p.child.pid, 'SIGKILL');
        const deadline = Date.now() + 10_000;
        while (p.child.exitCode === null && p.child.signalCode === null && Date.now() < deadline) await sleep(20);
        procs.splice(procs.indexOf(p), 1);
      },
      /** Starts a killed node's slurmd again. */
      restartSlurmd,
      stop() {
        stopped ??= cleanup();
        return stopped;
      },
      /** Synchronous last resort on process exit. */
      killNow() {
        for (const p of procs) {
          const pid = p.pidFile ? readPid(p.pidFile) : null;
          signal(-p.child.pid, 'SIGKILL');
          if (pid) signal(pid, 'SIGKILL');
        }
        for (const n of nodes) for (const pid of nodeCgroupPids(n)) signal(pid, 'SIGKILL');
        for (const d of madeDevices) rmSync(d, { force: true });
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (!String(err?.message).startsWith('Slurm cluster did not start')) await cleanup();
    throw err;
  }
}

/** Every process in the cgroups Slurm made for a node (its jobs, their slurmstepd). */
function nodeCgroupPids(node) {
  const pids = new Set();
  const walk = (d, depth) => {
    let entries = [];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (/^\d+$/.test(l)) pids.add(Number(l));
    } catch {
      // not a cgroup
    }
    if (depth < 6) for (const e of entries) if (e.isDirectory()) walk(join(d, e.name), depth + 1);
  };
  for (const ctl of ['memory', 'freezer', 'pids', 'cpuset', 'devices', 'cpuacct', 'cpu']) walk(join('/sys/fs/cgroup', ctl, `slurm_${node}`), 0);
  return [...pids];
}

async function waitIdle(env, nodes, ms) {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    const r = spawnSync('sinfo', ['-h', '-N', '-o', '%N %t'], { encoding: 'utf8', env, timeout: 15_000 });
    last = (r.stdout || r.stderr || '').trim();
    const states = new Map(last.split('\n').map((l) => l.trim().split(/\s+/)));
    if (r.status === 0 && nodes.every((n) => states.get(n) === 'idle')) return { idle: true, last };
    await sleep(300);
  }
  return { idle: false, last };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const gi = args.indexOf('--gpus');
  const c = await startSlurmCluster({ accounting: args.includes('--accounting'), gpus: gi >= 0 ? Number(args[gi + 1]) : 0, log: (m) => console.error(m) });
  console.log(`export SLURM_CONF=${c.env.SLURM_CONF}  # partition ${c.partition}, shared dir ${c.sharedDir}`);
  const end = () => void c.stop().then(() => process.exit(0));
  process.on('SIGINT', end);
  process.on('SIGTERM', end);
  process.on('exit', () => c.killNow());
}
