/**
 * `kairos publish [DIR]`: builds a wheel and an sdist of the Python project in DIR (PEP 517, offline: the
 * build backend must be installed, as `python3 -m build --no-isolation` wants) and uploads both to the
 * server's index through `/legacy/`, as twine does.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile, tail } from '../worker/envs/exec.js';
import { installerEnv } from '../worker/envs/builders.js';
import { metadataFields, wheelMetadata } from '../pypi/wheel.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { EXIT, UsageError } from './output.js';

async function build(python: string, dir: string, out: string, onLine: (l: string) => void): Promise<void> {
  const r = await execFile([python, '-m', 'build', '--no-isolation', '--sdist', '--wheel', '--outdir', out, dir], { cwd: dir, env: installerEnv(), timeoutMs: 30 * 60_000 });
  if (r.code === 0) return;
  if (!/No module named build/.test(r.stderr + r.stdout)) throw new Error(`building failed:\n${tail(r.stderr || r.stdout, 20).join('\n')}`);
  // No `build` module: a wheel alone, by pip (offline, with the backend installed).
  onLine('kairos: python -m build is not installed (apt-get install python3-build); building a wheel with pip');
  const w = await execFile([python, '-m', 'pip', 'wheel', '--no-build-isolation', '--no-deps', '--no-index', '--isolated', '-w', out, dir], { cwd: dir, env: installerEnv(), timeoutMs: 30 * 60_000 });
  if (w.code !== 0) throw new Error(`building failed:\n${tail(w.stderr || w.stdout, 20).join('\n')}`);
}

export const publishCommand: Command = {
  name: 'publish',
  summary: 'build a wheel and an sdist of a Python project (PEP 517, offline) and upload them to the server\'s package index',
  usage: 'publish [DIR] [--python PATH] [--json]',
  options: { python: { type: 'string' } },
  positionals: { min: 0, max: 1 },
  async run(p, { io }) {
    const dir = path.resolve(p.positionals[0] ?? '.');
    if (!existsSync(path.join(dir, 'pyproject.toml')) && !existsSync(path.join(dir, 'setup.py'))) throw new UsageError(`${dir} has no pyproject.toml or setup.py: not a Python project`);
    const python = stringOption(p.values.python) ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
    const out = mkdtempSync(path.join(tmpdir(), 'kairos-publish-'));
    try {
      io.err(`kairos: building ${dir}\n`);
      await build(python, dir, out, (l) => io.err(l + '\n'));
      const files = readdirSync(out).filter((f) => f.endsWith('.whl') || f.endsWith('.tar.gz') || f.endsWith('.zip')).sort((a, b) => (a.endsWith('.whl') ? -1 : b.endsWith('.whl') ? 1 : 0));
      const wheel = files.find((f) => f.endsWith('.whl'));
      if (!wheel) throw new Error('the build made no wheel');
      const meta = metadataFields(wheelMetadata(readFileSync(path.join(out, wheel)))?.toString('utf8') ?? '');
      const name = meta.get('name');
      const version = meta.get('version');
      if (!name || !version) throw new Error(`${wheel} has no Name or Version in its METADATA`);
      const base = p.globals.server.replace(/\/+$/, '');
      const uploaded: { filename: string; sha256: string; size: number; status: string }[] = [];
      for (const f of files) {
        const bytes = readFileSync(path.join(out, f));
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        const form = new FormData();
        const fields: Record<string, string> = { ':action': 'file_upload', protocol_version: '1', name, version, metadata_version: meta.get('metadata-version') ?? '2.1', filetype: f.endsWith('.whl') ? 'bdist_wheel' : 'sdist', pyversion: f.endsWith('.whl') ? 'py3' : 'source', sha256_digest: sha256, md5_digest: createHash('md5').update(bytes).digest('hex') };
        const rp = meta.get('requires-python');
        if (rp) fields.requires_python = rp;
        for (const [k, v] of Object.entries(fields)) form.append(k, v);
        form.append('content', new Blob([bytes]), f);
        const res = await fetch(`${base}/legacy/`, { method: 'POST', body: form, headers: p.globals.token ? { authorization: `Bearer ${p.globals.token}` } : {} });
        const text = (await res.text()).trim();
        if (!res.ok) {
          io.err(`kairos: uploading ${f} failed: ${res.status} ${text}\n`);
          return res.status === 401 || res.status === 403 || res.status === 409 || res.status === 400 ? EXIT.usage : EXIT.failed;
        }
        uploaded.push({ filename: f, sha256, size: bytes.length, status: text });
        if (!p.globals.json) io.out(`uploaded ${f} (${bytes.length} bytes, sha256 ${sha256.slice(0, 12)})\n`);
      }
      if (p.globals.json) io.out(JSON.stringify({ name, version, files: uploaded }, null, 2) + '\n');
      else io.err(`kairos: install with: pip install --index-url ${base}/simple/ ${name}==${version}   (token: https://__token__:TOKEN@HOST/simple/; docs/packages.md)\n`);
      return EXIT.ok;
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  },
};
