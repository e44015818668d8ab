/** Shared by the package-index tests: wheels built here, twine and pip as subprocesses, an index server. */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { wheel, type WheelSpec } from '../envs/package-index.js';

export { SYSTEM_PYTHON } from '../envs/package-index.js';

export interface Proc {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program (argv, no shell) with pip's default index and configuration out of the way. */
export function run(argv: readonly string[], env: Record<string, string> = {}, cwd?: string): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    const child = spawn(cmd ?? '', args, { cwd, env: { ...process.env, PIP_CONFIG_FILE: '/dev/null', PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1', TWINE_NON_INTERACTIVE: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Writes a wheel into `dir`; returns its path. `extra` changes its bytes (same name and version). */
export function writeWheel(dir: string, spec: WheelSpec, extra = ''): string {
  const [name, bytes] = wheel(extra ? { ...spec, requires: [...(spec.requires ?? [])] } : spec);
  const out = extra ? Buffer.concat([bytes.subarray(0, bytes.length - 2), Buffer.from([extra.length & 0xff, 0]), Buffer.from(extra)]) : bytes;
  const path = join(dir, name);
  writeFileSync(path, out);
  return path;
}

/** `twine upload` to the server's /legacy/. */
export function twineUpload(server: string, files: readonly string[], token: string | null): Promise<Proc> {
  const creds = token === null ? [] : ['-u', '__token__', '-p', token];
  return run(['twine', 'upload', '--disable-progress-bar', '--non-interactive', '--repository-url', `${server}/legacy/`, ...creds, ...files], { TWINE_USERNAME: '', TWINE_PASSWORD: '' });
}

/** The index URL pip gets, with the token as basic auth (as docs/packages.md tells users). */
export function indexUrl(server: string, token: string | null): string {
  const u = new URL(`${server}/simple/`);
  if (token !== null) {
    u.username = '__token__';
    u.password = token;
  }
  return u.toString();
}
