/**
 * Real podman for tests, each with a private store (`--root`, `--runroot` under a temp directory: standing for
 * one machine), runc with cgroupfs and low ulimits as docs/containers.md says for these machines; a base image
 * the test makes itself (Debian's static busybox in a tiny root filesystem, `podman import`ed: no registry
 * needed); and a real registry (tools/registry-server.mjs: Debian's docker-registry on loopback).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, copyFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { podman, type PodmanSettings } from '../../src/worker/containers/podman.js';
import { ROOT, tempDir } from '../helpers.js';

const have = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Why these tests cannot run here, or null when podman, runc, busybox and docker-registry are installed. */
export function podmanMissing(): string | null {
  for (const c of ['podman', 'runc', 'busybox', 'docker-registry']) if (!have(c)) return `${c} is not installed (see .ci/run)`;
  return null;
}

export interface PodmanStore {
  readonly dir: string;
  readonly settings: PodmanSettings;
  /** Environment variables that give a worker (or `kairos up`) this store. */
  readonly env: Record<string, string>;
  /** Runs podman on this store; throws on failure. */
  run(args: readonly string[]): Promise<string>;
  /** Names of every container of this store. */
  containers(): Promise<string[]>;
  /** Mount points under this store's directories (none must be left after a test). */
  mounts(): string[];
  cleanup(): Promise<void>;
}

export function podmanStore(prefix = 'kairos-podman-'): PodmanStore {
  const dir = tempDir(prefix);
  const root = join(dir.path, 'root');
  const runroot = join(dir.path, 'runroot');
  const globalArgs = ['--root', root, '--runroot', runroot, '--runtime', 'runc', '--cgroup-manager', 'cgroupfs', '--events-backend', 'none'];
  const runArgs = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=2048:2048'];
  const settings: PodmanSettings = { command: 'podman', globalArgs, runArgs };
  const run = async (args: readonly string[]) => {
    const r = await podman(settings, args, { timeoutMs: 300_000 });
    if (r.code !== 0) throw new Error(`podman ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  return {
    dir: dir.path,
    settings,
    env: { KAIROS_PODMAN_ARGS: globalArgs.join(' '), KAIROS_PODMAN_RUN_ARGS: runArgs.join(' ') },
    run,
    async containers() {
      return (await run(['ps', '--all', '--format', '{{.Names}}'])).split('\n').filter((l) => l.trim() !== '');
    },
    mounts() {
      return readFileSync('/proc/mounts', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[1] ?? '')
        .filter((m) => m.startsWith(dir.path));
    },
    async cleanup() {
      await podman(settings, ['rm', '--all', '--force', '--time', '0'], { timeoutMs: 300_000 });
      await podman(settings, ['system', 'reset', '--force'], { timeoutMs: 300_000 });
      for (const m of this.mounts().reverse()) spawnSync('umount', ['-l', m]);
      dir.cleanup();
    },
  };
}

/** A busybox root filesystem as a tar (made once per process). */
let baseTar: { path: string; cleanup(): void } | null = null;
function busyboxTar(): string {
  if (baseTar) return join(baseTar.path, 'base.tar');
  baseTar = tempDir('kairos-busybox-');
  const rootfs = join(baseTar.path, 'rootfs');
  for (const d of ['bin', 'tmp', 'proc', 'sys', 'dev', 'etc', 'root']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(execFileSync('sh', ['-c', 'command -v busybox']).toString().trim(), join(rootfs, 'bin', 'busybox'));
  execFileSync('chmod', ['755', join(rootfs, 'bin', 'busybox')]);
  const applets = execFileSync(join(rootfs, 'bin', 'busybox'), ['--list']).toString().split('\n').filter((a) => /^[a-z0-9_.[-]+$/.test(a) && a !== 'busybox');
  for (const a of applets) symlinkSync('busybox', join(rootfs, 'bin', a));
  writeFileSync(join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  execFileSync('tar', ['-C', rootfs, '-cf', join(baseTar.path, 'base.tar'), '.']);
  return join(baseTar.path, 'base.tar');
}

/** The test's base image in `store` as `name` (default localhost/kairos-test-base:1). */
export async function importBase(store: PodmanStore, name = 'localhost/kairos-test-base:1'): Promise<string> {
  await store.run(['import', '--quiet', '--change', 'ENV PATH=/bin', busyboxTar(), name]);
  return name;
}

export function removeBusyboxTar(): void {
  baseTar?.cleanup();
  baseTar = null;
}

export interface RegistryServer {
  /** `http://127.0.0.1:PORT/PREFIX`: what `--registry` takes for this plain-HTTP loopback registry. */
  readonly flag: string;
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts tools/registry-server.mjs (Debian's docker-registry on loopback); `stop()` ends it by pid and removes its files. */
export async function startRegistry(prefix = 'team'): Promise<RegistryServer> {
  const dir = tempDir('kairos-registry-');
  const child = spawn(process.execPath, [join(ROOT, 'tools', 'registry-server.mjs'), '--dir', dir.path], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', (l) => resolve((JSON.parse(l) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`registry-server exited with ${code} before it listened`)));
  });
  return {
    flag: `http://127.0.0.1:${port}/${prefix}`,
    port,
    async stop() {
      if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGTERM');
      await exited;
      dir.cleanup();
    },
  };
}
