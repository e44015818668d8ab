/**
 * `kairos artifacts RUN [--json]`: a run's artifacts. `kairos artifacts get RUN PATH [-o FILE]` and
 * `kairos artifacts get RUN --all -o DIR`: download them, each checked against its SHA-256 as it is written
 * (a mismatch leaves no file), each path checked to stay inside DIR.
 */
import { createWriteStream } from 'node:fs';
import { lstat, mkdir, realpath, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { ArtifactView, KairosClient } from '../api/client.js';
import { isSafeArtifactPath, showSize } from '../artifacts/policy.js';
import { verifying } from '../artifacts/verify.js';
import type { Command } from './command.js';
import { onRun } from './run-id.js';
import { EXIT, UsageError, table } from './output.js';

const USAGE = 'artifacts RUN [--attempt N] [--json] | artifacts get RUN PATH [-o FILE|-] | artifacts get RUN --all -o DIR';

/** Writes the artifact to `dest` through a temporary file, checking size and SHA-256; `-` is stdout. */
async function download(client: KairosClient, runId: string, a: ArtifactView, dest: string): Promise<void> {
  const res = await client.downloadArtifact(runId, a.path, a.attempt);
  const check = verifying(res, a, a.path);
  if (dest === '-') {
    await pipeline(check, process.stdout, { end: false });
    return;
  }
  const tmp = `${dest}.kairos-part-${process.pid}`;
  try {
    await pipeline(check, createWriteStream(tmp, { flags: 'wx' }));
    await rename(tmp, dest);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** `DIR/path`, after checking that no component of it leaves DIR (`..`, absolute paths, links out). */
async function placeIn(dir: string, path: string): Promise<string> {
  if (!isSafeArtifactPath(path)) throw new Error(`artifact path ${JSON.stringify(path)} is not a safe relative path; not written`);
  const root = await realpath(dir);
  const dest = resolve(root, path);
  if (!dest.startsWith(root + sep)) throw new Error(`artifact path ${JSON.stringify(path)} leaves ${dir}; not written`);
  await mkdir(dirname(dest), { recursive: true });
  const parent = await realpath(dirname(dest));
  if (parent !== root && !parent.startsWith(root + sep)) throw new Error(`artifact path ${JSON.stringify(path)} goes through a link out of ${dir}; not written`);
  const st = await lstat(dest).catch(() => null);
  if (st?.isSymbolicLink()) throw new Error(`${dest} is a symbolic link; not overwritten`);
  return dest;
}

export const artifactsCommand: Command = {
  name: 'artifacts',
  summary: "a run's artifacts: list them, or download one or all (checked by SHA-256)",
  usage: USAGE,
  options: { output: { type: 'string', short: 'o' }, all: { type: 'boolean' }, attempt: { type: 'string' } },
  positionals: { min: 1, max: 3 },
  async run(p, { io, client }) {
    const [first = '', second, third] = p.positionals;
    const attemptArg = typeof p.values.attempt === 'string' ? p.values.attempt : undefined;
    if (attemptArg !== undefined && !/^[1-9][0-9]{0,6}$/.test(attemptArg)) throw new UsageError(`--attempt must be an attempt number, got "${attemptArg}"\nusage: ${USAGE}`);
    const attempt = attemptArg === undefined ? undefined : Number(attemptArg);
    const c = client(p);
    if (first !== 'get') {
      if (second !== undefined) throw new UsageError(`unexpected argument "${second}"\nusage: ${USAGE}`);
      const { artifacts } = await onRun(first, p.globals.server, (id) => c.artifacts(id, attempt));
      if (p.globals.json) {
        io.out(JSON.stringify(artifacts, null, 2) + '\n');
        return;
      }
      if (artifacts.length === 0) {
        io.err('no artifacts\n');
        return;
      }
      io.out(table(['ATTEMPT', 'PATH', 'SIZE', 'TYPE', 'SHA-256'], artifacts.map((a) => [String(a.attempt), a.path, showSize(a.size), a.content_type.split(';')[0] ?? '', a.stored ? a.sha256.slice(0, 16) : `${a.sha256.slice(0, 16)} (not stored)`])));
      return;
    }
    if (!second) throw new UsageError(`missing RUN\nusage: ${USAGE}`);
    const out = typeof p.values.output === 'string' ? p.values.output : undefined;
    const all = p.values.all === true;
    if (all === (third !== undefined)) throw new UsageError(`give either PATH or --all\nusage: ${USAGE}`);
    const { artifacts } = await onRun(second, p.globals.server, (id) => c.artifacts(id, attempt));
    const runId = second;
    if (!all) {
      const a = artifacts.find((x) => x.path === third);
      if (!a) {
        io.err(`kairos: run ${second} has no artifact ${JSON.stringify(third)}${artifacts.length ? ` (it has: ${artifacts.slice(0, 10).map((x) => x.path).join(', ')}${artifacts.length > 10 ? ', …' : ''})` : ''}\n`);
        return EXIT.failed;
      }
      const dest = out ?? basename(a.path);
      await download(c, runId, a, dest);
      if (dest !== '-') io.err(`kairos: ${a.path} → ${dest} (${showSize(a.size)}, sha256 ${a.sha256})\n`);
      return;
    }
    if (!out || out === '-') throw new UsageError(`--all needs -o DIR\nusage: ${USAGE}`);
    await mkdir(out, { recursive: true });
    let failed = 0;
    let bytes = 0;
    for (const a of artifacts) {
      try {
        if (!a.stored) throw new Error(`${a.path}: recorded before the artifact store; its bytes are not on the server`);
        const dest = await placeIn(out, a.path);
        await download(c, runId, a, dest);
        bytes += a.size;
        if (!p.globals.json) io.err(`kairos: ${a.path} → ${join(out, relative(await realpath(out), dest))}\n`);
      } catch (err) {
        failed++;
        io.err(`kairos: ${(err as Error).message}\n`);
      }
    }
    io.err(`kairos: ${artifacts.length - failed} of ${artifacts.length} artifacts in ${out} (${showSize(bytes)})\n`);
    return failed ? EXIT.failed : EXIT.ok;
  },
};
