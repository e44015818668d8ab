/** The git commit of a project directory, read with git's argv (never a shell); null outside a checkout. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';

function git(dir: string, args: readonly string[]): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, ...args], { timeout: 10_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout) => resolve(err ? null : stdout));
  });
}

export async function gitState(dir: string): Promise<{ commit: string; dirty: boolean } | null> {
  const head = await git(dir, ['rev-parse', 'HEAD']);
  const commit = head?.trim() ?? '';
  if (!/^[0-9a-f]{40,64}$/.test(commit)) return null;
  // Dirty means changes under DIR itself (a project may live in a folder of a bigger repository).
  const status = await git(dir, ['status', '--porcelain', '--untracked-files=normal', '--', '.']);
  return { commit, dirty: status === null ? true : status.trim() !== '' };
}

/**
 * Whether `file` sits in a git work tree where `git add .` would pick it up: inside one, and not ignored.
 * False outside a work tree (or without git).
 */
export async function trackableByGit(file: string): Promise<boolean> {
  // The nearest folder that exists (the data directory may not yet).
  let dir = dirname(file);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const inside = await git(dir, ['rev-parse', '--is-inside-work-tree']);
  if (inside?.trim() !== 'true') return false;
  // check-ignore exits 0 when ignored, 1 when not; anything else (an error) counts as "cannot tell": no warning.
  return new Promise((resolve) => {
    execFile('git', ['-C', dir, 'check-ignore', '-q', '--', file], { timeout: 10_000 }, (err) => resolve((err as { code?: unknown } | null)?.code === 1));
  });
}
