/**
 * Separate hosts on one machine: each a network namespace joined to this one by a veth pair, with its own
 * address. Processes started in a host reach the test's servers only over that link, and taking the link
 * down cuts them off as a pulled cable would. Needs root and iproute2 (`ip`); in CI a missing piece is a failure.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { BIN, ROOT } from './helpers.js';

export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return 'the `ip` command (iproute2) is missing or cannot list network namespaces';
  }
  return null;
}

/** Skips locally (with the reason) when namespaces are unavailable; fails in CI. */
export function requireNetns(t: { skip(msg: string): void }): boolean {
  const why = netnsUnavailable();
  if (why === null) return true;
  if (process.env.CI) throw new Error(`network namespace tests cannot run: ${why}`);
  t.skip(why);
  return false;
}

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

let hostsMade = 0;

export interface NetHost {
  readonly ns: string;
  /** This host's address. */
  readonly ip: string;
  /** The test machine's address on this host's link: servers listening on 0.0.0.0 are reached here. */
  readonly peerIp: string;
  /** Starts `kairos ARGS` inside this host. */
  spawnCli(args: readonly string[], env?: Record<string, string>): { child: ChildProcess; output(): string };
  /** Runs `kairos ARGS` inside this host and collects its output. */
  cli(args: readonly string[], opts?: { env?: Record<string, string>; input?: string; cwd?: string }): Promise<{ code: number | null; stdout: string; stderr: string }>;
  linkDown(): void;
  linkUp(): void;
  destroy(): void;
}

export function createHost(): NetHost {
  const n = ++hostsMade;
  // Unique per test process, so test files running side by side never collide.
  const tag = `${process.pid % 100000}x${n}`;
  const ns = `kairos-${tag}`;
  const veth = `kv${tag}`.slice(0, 15);
  const octet2 = 100 + (process.pid % 100);
  const subnet = `10.${octet2}.${n}`;
  const peerIp = `${subnet}.1`;
  const hostIp = `${subnet}.2`;
  ip('netns', 'add', ns);
  try {
    ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    ip('addr', 'add', `${peerIp}/24`, 'dev', veth);
    ip('link', 'set', veth, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${hostIp}/24`, 'dev', 'eth0');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'eth0', 'up');
    ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    ip('netns', 'del', ns);
    throw err;
  }
  const start = (args: readonly string[], env: Record<string, string> = {}, cwd = ROOT) =>
    spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  return {
    ns,
    ip: hostIp,
    peerIp,
    spawnCli(args, env) {
      const child = start(args, env);
      child.stdin?.end();
      let out = '';
      child.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
      return { child, output: () => out };
    },
    cli(args, opts = {}) {
      return new Promise((resolve, reject) => {
        const child = start(args, opts.env, opts.cwd);
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
        child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
        child.on('error', reject);
        child.on('close', (code) => resolve({ code, stdout, stderr }));
        child.stdin?.end(opts.input ?? '');
      });
    },
    linkDown: () => ip('link', 'set', veth, 'down'),
    linkUp: () => ip('link', 'set', veth, 'up'),
    destroy() {
      try {
        ip('netns', 'del', ns); // takes its end of the veth pair, and so the pair, with it
      } catch {
        /* already gone */
      }
    },
  };
}
