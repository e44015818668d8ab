/**
 * Watching a project directory for changes, without watching what never goes into a bundle (.git, the data
 * directory, ignored folders). Node's recursive fs.watch cannot leave a subtree out, and a data directory
 * inside the project gains a folder per attempt: watching it would cost more than the runs themselves.
 */
import { watch, readdirSync, readFileSync, type FSWatcher } from 'node:fs';
import { join, relative, sep } from 'node:path';
import ignore from 'ignore';

const ALWAYS_SKIPPED = new Set(['.git', '.hg', '.svn', '.kairos', 'node_modules', '__pycache__', '.venv']);
const MAX_WATCHED_DIRS = 5000;

export interface ProjectWatcher {
  close(): void;
}

export function watchProject(root: string, skipDirs: readonly string[], onChange: (relPath: string) => void, onError: (err: Error) => void): ProjectWatcher {
  const rules = ignore();
  for (const f of ['.gitignore', '.kairosignore']) {
    try {
      rules.add(readFileSync(join(root, f), 'utf8'));
    } catch {
      // no such file
    }
  }
  const skipped = (abs: string): boolean => {
    const rel = relative(root, abs);
    if (rel === '') return false;
    if (rel.startsWith('..')) return true;
    if (skipDirs.some((d) => abs === d || abs.startsWith(d + sep))) return true;
    if (rel.split(sep).some((part) => ALWAYS_SKIPPED.has(part))) return true;
    return rules.ignores(rel.split(sep).join('/') + '/');
  };
  const watchers = new Map<string, FSWatcher>();
  let closed = false;

  const add = (dir: string): void => {
    if (closed || watchers.has(dir) || skipped(dir) || watchers.size >= MAX_WATCHED_DIRS) return;
    let w: FSWatcher;
    try {
      w = watch(dir, (_event, name) => {
        const abs = name ? join(dir, String(name)) : dir;
        if (abs !== dir && skipped(abs)) return;
        onChange(relative(root, abs));
        // A new folder: watch it (and what it holds) too.
        if (name) addTree(abs);
      });
    } catch {
      return; // not a directory (any more)
    }
    w.on('error', (err) => {
      watchers.delete(dir);
      w.close();
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && (err as NodeJS.ErrnoException).code !== 'EPERM') onError(err);
    });
    watchers.set(dir, w);
  };

  const addTree = (dir: string): void => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    add(dir);
    for (const e of entries) if (e.isDirectory()) addTree(join(dir, e.name));
  };

  addTree(root);
  return {
    close() {
      closed = true;
      for (const w of watchers.values()) w.close();
      watchers.clear();
    },
  };
}
