/**
 * `kairos snapshot push NAME PATH` and `kairos snapshot list [NAME]` (docs/snapshots.md): a file or a folder
 * becomes an immutable, content-addressed version of a named dataset. Only the blobs the server lacks are
 * uploaded; the version is then committed as its file list, so the same content is the same version.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import { KairosClient } from '../api/client.js';
import { hashFile } from '../artifacts/store.js';
import { SNAPSHOT_NAME, SNAPSHOT_NAME_RULE } from '../model/inputs.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { shortTime, table, UsageError, type Io } from './output.js';

const USAGE = 'snapshot push NAME PATH [--project P] | snapshot list [NAME] [--project P] [--json]';

interface LocalFile {
  readonly abs: string;
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
}

/** Every regular file under `root` in path order; links and special files are refused (they would not be what a job reads). */
async function walk(root: string): Promise<LocalFile[]> {
  const out: LocalFile[] = [];
  async function visit(dir: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name);
      const st = await lstat(abs);
      if (st.isDirectory()) await visit(abs);
      else if (st.isFile()) out.push({ abs, path: relative(root, abs).split(sep).join('/'), ...(await hashFile(abs)) });
      else throw new UsageError(`${abs} is not a regular file or folder (symbolic links and special files cannot be part of a snapshot)`);
    }
  }
  await visit(root);
  return out;
}

export function showSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

async function push(client: KairosClient, name: string, target: string, project: string | undefined, io: Io, json: boolean): Promise<void> {
  const abs = resolve(target);
  const st = await lstat(abs).catch(() => null);
  if (!st) throw new UsageError(`${target}: no such file or folder`);
  let kind: 'file' | 'dir';
  let files: LocalFile[];
  if (st.isFile()) {
    kind = 'file';
    files = [{ abs, path: basename(abs), ...(await hashFile(abs)) }];
  } else if (st.isDirectory()) {
    kind = 'dir';
    files = await walk(abs);
    if (files.length === 0) throw new UsageError(`${target}: the folder holds no files`);
  } else throw new UsageError(`${target} is not a regular file or folder`);

  const missing = new Set<string>();
  for (let i = 0; i < files.length; i += 10_000) for (const m of await client.missingBlobs(files.slice(i, i + 10_000).map((f) => f.sha256))) missing.add(m);
  let uploaded = 0;
  let uploadedBytes = 0;
  for (const f of files) {
    if (!missing.has(f.sha256)) continue;
    missing.delete(f.sha256);
    await client.uploadBlob(f.sha256, createReadStream(f.abs));
    uploaded++;
    uploadedBytes += f.size;
  }
  const v = await client.commitSnapshot(name, { ...(project ? { project } : {}), kind, files: files.map((f) => ({ path: f.path, sha256: f.sha256, size: f.size })) });
  if (json) {
    io.out(JSON.stringify({ ...v, uploaded_files: uploaded, uploaded_bytes: uploadedBytes }, null, 2) + '\n');
    return;
  }
  const what = `${v.files} file${v.files === 1 ? '' : 's'}, ${showSize(v.size)}`;
  io.out(`${v.project}/${v.name}@${v.version.slice(0, 12)}\n`);
  io.err(
    v.created
      ? `kairos: snapshot ${v.name} version ${v.version.slice(0, 12)} created (${what}; ${uploaded} file${uploaded === 1 ? '' : 's'} uploaded, ${showSize(uploadedBytes)}); jobs read it as ${v.name}@latest or ${v.name}@${v.version.slice(0, 12)}\n`
      : `kairos: snapshot ${v.name} already has this content as version ${v.version.slice(0, 12)} (${what}); nothing new stored\n`,
  );
}

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: 'immutable, content-addressed versions of named datasets, read by jobs through `inputs`',
  usage: USAGE,
  options: { project: { type: 'string' } },
  positionals: { min: 1, max: 3 },
  async run(p, { io }) {
    const [action, name, target] = p.positionals;
    const project = stringOption(p.values.project);
    if (name !== undefined && !SNAPSHOT_NAME.test(name)) throw new UsageError(`"${name}" is not a snapshot name: use ${SNAPSHOT_NAME_RULE}`);
    const client = new KairosClient(p.globals.server, p.globals.token);
    if (action === 'push') {
      if (!name || !target) throw new UsageError(`snapshot push needs NAME and PATH\nusage: kairos ${USAGE}`);
      await push(client, name, target, project, io, p.globals.json);
      return;
    }
    if (action !== 'list') throw new UsageError(`unknown action "${action ?? ''}"\nusage: kairos ${USAGE}`);
    if (target !== undefined) throw new UsageError(`unexpected argument "${target}"\nusage: kairos ${USAGE}`);
    const { snapshots } = await client.snapshots({ ...(project ? { project } : {}), ...(name ? { name } : {}) });
    if (p.globals.json) io.out(JSON.stringify(snapshots, null, 2) + '\n');
    else if (snapshots.length === 0) io.out(name ? `no snapshot ${name}\n` : 'no snapshots\n');
    else {
      io.out(
        table(
          ['PROJECT', 'NAME', 'VERSION', 'KIND', 'FILES', 'SIZE', 'CREATED', 'BY', ''],
          snapshots.map((s) => [s.project, s.name, s.version.slice(0, 12), s.kind, String(s.files), showSize(s.size), shortTime(s.created_at), s.created_by, s.latest ? 'latest' : '']),
        ),
      );
    }
  },
};
