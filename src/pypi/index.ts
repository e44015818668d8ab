/**
 * The team's package index: projects and files in the database (0016), bytes in a content-addressed blob
 * store, pages (PEP 503 HTML and PEP 691 JSON) built once per change of a project and served from memory
 * after a one-row check of its serial, so a project with thousands of versions lists in well under a
 * millisecond of work once built.
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import path from 'node:path';
import { KairosError } from '../model/errors.js';
import type { Db } from '../store/db.js';
import type { PypiFilesTable } from '../store/schema.js';
import { artifactBlobs, type BlobStore } from './blobs.js';
import type { ArtifactStore } from '../artifacts/store.js';
import { html, normalize, normalizeVersion, parseFilename, validName, validVersion } from './names.js';
import { metadataFields, wheelMetadata } from './wheel.js';

export const PAGE_HTML = 'text/html';
export const PAGE_JSON = 'application/vnd.pypi.simple.v1+json';
export const PAGE_HTML_V1 = 'application/vnd.pypi.simple.v1+html';

/** Largest file taken by an upload (KAIROS_PACKAGE_MAX_BYTES, default 100 MiB). */
export function maxUploadBytes(env: NodeJS.ProcessEnv = process.env): number {
  const v = Number(env.KAIROS_PACKAGE_MAX_BYTES ?? '');
  return Number.isInteger(v) && v > 0 ? v : 100 * 1024 * 1024;
}

export interface Page {
  readonly etag: string;
  readonly html: string;
  readonly json: string;
  /** The bodies encoded once, plain and gzipped (a 5,000-version page is megabytes: never re-encoded per request). */
  readonly bodies: { readonly html: Buffer; readonly json: Buffer; readonly htmlGz: Buffer; readonly jsonGz: Buffer };
}

/** A page with its encoded bodies. */
export function withBodies(p: Omit<Page, 'bodies'>): Page {
  const html = Buffer.from(p.html);
  const json = Buffer.from(p.json);
  return { ...p, bodies: { html, json, htmlGz: gzipSync(html, { level: 6 }), jsonGz: gzipSync(json, { level: 6 }) } };
}

export interface Upload {
  readonly fields: ReadonlyMap<string, string>;
  readonly filename: string;
  readonly bytes: Buffer;
  readonly by: string;
}

export interface FileRow {
  readonly filename: string;
  readonly version: string;
  readonly sha256: string;
  readonly size: number;
  readonly yanked: string | false;
  readonly uploaded_at: string;
}

/** Versions compared as PEP 440 would for common cases: numeric release segments, then the rest as text. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+!-]/);
  const pb = b.split(/[.+!-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = /^\d+$/.test(x) ? Number(x) : NaN;
    const ny = /^\d+$/.test(y) ? Number(y) : NaN;
    if (!Number.isNaN(nx) && !Number.isNaN(ny)) {
      if (nx !== ny) return nx - ny;
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

const fileHref = (f: { sha256: string; filename: string }) => `../../pypi/files/${f.sha256}/${encodeURIComponent(f.filename)}`;

export class PackageIndex {
  readonly blobs: BlobStore;
  private readonly pages = new Map<string, { serial: number; page: Page }>();
  private root: { key: string; page: Page } | null = null;

  constructor(
    readonly db: Db,
    store: ArtifactStore,
  ) {
    this.blobs = artifactBlobs(store);
  }

  /** The project's display name and normalized name, or null. */
  async project(name: string): Promise<{ name: string; display_name: string; serial: number } | null> {
    return (await this.db.kysely.selectFrom('pypi_projects').select(['name', 'display_name', 'serial']).where('name', '=', normalize(name)).executeTakeFirst()) ?? null;
  }

  /** `/simple/`: every project. */
  async rootPage(): Promise<Page> {
    const stat = await this.db.kysely
      .selectFrom('pypi_projects')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('serial').as('s')])
      .executeTakeFirst();
    const key = `${Number(stat?.n ?? 0)}-${Number(stat?.s ?? 0)}`;
    if (this.root?.key === key) return this.root.page;
    const rows = await this.db.kysely.selectFrom('pypi_projects').select(['name', 'display_name']).orderBy('name').execute();
    const body = rows.map((r) => `<a href="${html(r.name)}/">${html(r.display_name)}</a><br/>`).join('\n');
    const page: Page = withBodies({
      etag: `"root-${key}"`,
      html: `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1"><title>Simple index</title></head><body>\n${body}\n</body></html>\n`,
      json: JSON.stringify({ meta: { 'api-version': '1.1' }, projects: rows.map((r) => ({ name: r.display_name })) }),
    });
    this.root = { key, page };
    return page;
  }

  /** `/simple/<name>/`, or null when the index has no such project. */
  async projectPage(name: string): Promise<Page | null> {
    const p = await this.project(name);
    if (!p) return null;
    const cached = this.pages.get(p.name);
    if (cached && cached.serial === p.serial) return cached.page;
    const files = await this.db.kysely.selectFrom('pypi_files').selectAll().where('project', '=', p.name).where('deleted_at', 'is', null).execute();
    files.sort((a, b) => compareVersions(a.version, b.version) || (a.filename < b.filename ? -1 : 1));
    const page = buildPage(p.display_name, p.serial, files);
    this.pages.set(p.name, { serial: p.serial, page });
    return page;
  }

  /** A live file's row by its sha256 and filename (the URL of a download). */
  async file(sha256: string, filename: string): Promise<PypiFilesTable | null> {
    const row = await this.db.kysely.selectFrom('pypi_files').selectAll().where('filename', '=', filename).where('deleted_at', 'is', null).executeTakeFirst();
    return row && row.sha256 === sha256 ? row : null;
  }

  /** Stores an upload after every check; returns `created: false` when the same bytes were there already. */
  async upload(u: Upload, mayPublish: (project: string) => boolean): Promise<{ created: boolean; project: string; version: string }> {
    const f = u.fields;
    if ((f.get(':action') ?? 'file_upload') !== 'file_upload') throw new KairosError('invalid_input', `unsupported :action "${f.get(':action') ?? ''}"; only file_upload`);
    const name = f.get('name') ?? '';
    const version = f.get('version') ?? '';
    if (!validName(name)) throw new KairosError('invalid_input', 'field "name" must be a valid project name');
    if (!validVersion(version)) throw new KairosError('invalid_input', 'field "version" must be a valid version');
    const parsed = parseFilename(u.filename);
    if (!parsed) throw new KairosError('invalid_input', 'the file must be a wheel (.whl) or an sdist (.tar.gz, .zip) with a valid filename');
    const project = normalize(name);
    if (normalize(parsed.name) !== project) throw new KairosError('invalid_input', `the filename's project (${parsed.name}) is not the metadata's name (${name})`);
    if (normalizeVersion(parsed.version) !== normalizeVersion(version)) throw new KairosError('invalid_input', `the filename's version (${parsed.version}) is not the metadata's version (${version})`);
    if (!mayPublish(project)) throw new KairosError('forbidden', `this token may not publish "${name}" (its package prefixes do not cover it)`);
    const sha256 = createHash('sha256').update(u.bytes).digest('hex');
    const sentSha = f.get('sha256_digest');
    if (sentSha !== undefined && sentSha.toLowerCase() !== sha256) throw new KairosError('invalid_input', 'sha256_digest does not match the file');
    const sentMd5 = f.get('md5_digest');
    if (sentMd5 !== undefined && sentMd5 !== '' && sentMd5.toLowerCase() !== createHash('md5').update(u.bytes).digest('hex')) throw new KairosError('invalid_input', 'md5_digest does not match the file');
    if (sentSha === undefined && (sentMd5 === undefined || sentMd5 === '')) throw new KairosError('invalid_input', 'a digest (sha256_digest or md5_digest) is required');
    let metadata: Buffer | null = null;
    let requiresPython: string | null = f.get('requires_python') || null;
    if (parsed.kind === 'wheel') {
      try {
        metadata = wheelMetadata(u.bytes);
      } catch {
        metadata = null;
      }
      if (!metadata) throw new KairosError('invalid_input', 'the wheel has no readable *.dist-info/METADATA');
      const meta = metadataFields(metadata.toString('utf8'));
      if (normalize(meta.get('name') ?? '') !== project) throw new KairosError('invalid_input', `the wheel's METADATA names "${meta.get('name') ?? ''}", not "${name}"`);
      if (normalizeVersion(meta.get('version') ?? '') !== normalizeVersion(version)) throw new KairosError('invalid_input', `the wheel's METADATA has version "${meta.get('version') ?? ''}", not "${version}"`);
      requiresPython = meta.get('requires-python') || requiresPython;
    }
    if (requiresPython !== null && requiresPython.length > 200) throw new KairosError('invalid_input', 'requires_python is too long');
    const prior = await this.db.kysely.selectFrom('pypi_files').select(['sha256', 'deleted_at']).where('filename', '=', u.filename).executeTakeFirst();
    if (prior && prior.sha256 !== sha256) throw new KairosError('conflict', `the filename ${u.filename} was already used (${prior.deleted_at === null ? 'it exists' : 'it was deleted'}) with other contents; a filename is never reused: upload a new version`);
    if (prior && prior.deleted_at === null) return { created: false, project, version: parsed.version };
    await this.blobs.putBytes(u.bytes, sha256);
    const metaSha = metadata ? (await this.blobs.putBytes(metadata)).sha256 : null;
    const now = this.db.clock.now();
    await this.db.tx(async (trx) => {
      const existing = await trx.selectFrom('pypi_projects').select('name').where('name', '=', project).executeTakeFirst();
      if (!existing) await trx.insertInto('pypi_projects').values({ name: project, display_name: name, created_at: now, serial: 1 }).onConflict((oc) => oc.doNothing()).execute();
      if (prior) {
        await trx.updateTable('pypi_files').set({ deleted_at: null, uploaded_at: now, uploaded_by: u.by }).where('filename', '=', u.filename).execute();
      } else {
        const again = await trx.selectFrom('pypi_files').select('sha256').where('filename', '=', u.filename).executeTakeFirst();
        if (again) throw new KairosError('conflict', `the filename ${u.filename} was just uploaded by someone else`);
        await trx
          .insertInto('pypi_files')
          .values({ filename: u.filename, project, version: parsed.version, kind: parsed.kind, sha256, size: u.bytes.length, requires_python: requiresPython, metadata_sha256: metaSha, yanked: 0, yanked_reason: null, uploaded_at: now, uploaded_by: u.by, deleted_at: null })
          .execute();
      }
      await this.bump(trx, project);
    });
    return { created: true, project, version: parsed.version };
  }

  private async bump(q: Db['kysely'], project: string): Promise<void> {
    await q
      .updateTable('pypi_projects')
      .set((eb) => ({ serial: eb('serial', '+', 1) }))
      .where('name', '=', project)
      .execute();
  }

  /** Yanks (PEP 592) or un-yanks every file of a version; returns how many files. */
  async setYanked(name: string, version: string, yanked: boolean, reason: string | null): Promise<number> {
    const project = normalize(name);
    return this.db.tx(async (trx) => {
      const files = await trx.selectFrom('pypi_files').select(['filename', 'version']).where('project', '=', project).where('deleted_at', 'is', null).execute();
      const hit = files.filter((f) => normalizeVersion(f.version) === normalizeVersion(version)).map((f) => f.filename);
      if (hit.length === 0) throw new KairosError('not_found', `package ${name} has no version ${version}`);
      await trx.updateTable('pypi_files').set({ yanked: yanked ? 1 : 0, yanked_reason: yanked ? reason : null }).where('filename', 'in', hit).execute();
      await this.bump(trx, project);
      return hit.length;
    });
  }

  /** Deletes every file of a version (their filenames stay taken). */
  async deleteVersion(name: string, version: string): Promise<number> {
    const project = normalize(name);
    const now = this.db.clock.now();
    return this.db.tx(async (trx) => {
      const files = await trx.selectFrom('pypi_files').select(['filename', 'version']).where('project', '=', project).where('deleted_at', 'is', null).execute();
      const hit = files.filter((f) => normalizeVersion(f.version) === normalizeVersion(version)).map((f) => f.filename);
      if (hit.length === 0) throw new KairosError('not_found', `package ${name} has no version ${version}`);
      await trx.updateTable('pypi_files').set({ deleted_at: now }).where('filename', 'in', hit).execute();
      await this.bump(trx, project);
      return hit.length;
    });
  }

  /** Projects with their versions, and which runs used each version. */
  async listing(name?: string): Promise<PackageListing[]> {
    let q = this.db.kysely.selectFrom('pypi_projects').select(['name', 'display_name']).orderBy('name');
    if (name !== undefined) q = q.where('name', '=', normalize(name));
    const projects = await q.execute();
    const out: PackageListing[] = [];
    for (const p of projects) {
      const files = await this.db.kysely.selectFrom('pypi_files').selectAll().where('project', '=', p.name).where('deleted_at', 'is', null).execute();
      const usage = await this.db.kysely.selectFrom('pypi_usage').select(['run_id', 'attempt', 'version']).where('project', '=', p.name).orderBy('recorded_at', 'desc').limit(5000).execute();
      const versions = new Map<string, VersionListing>();
      for (const f of files) {
        const v = versions.get(f.version) ?? { version: f.version, yanked: false, yanked_reason: null, files: [], runs: [] };
        v.files.push({ filename: f.filename, sha256: f.sha256, size: Number(f.size), uploaded_at: new Date(Number(f.uploaded_at)).toISOString(), uploaded_by: f.uploaded_by });
        if (f.yanked) {
          v.yanked = true;
          v.yanked_reason = f.yanked_reason;
        }
        versions.set(f.version, v);
      }
      for (const u of usage) {
        const v = [...versions.values()].find((x) => normalizeVersion(x.version) === normalizeVersion(u.version));
        if (v && v.runs.length < 100 && !v.runs.some((r) => r.run_id === u.run_id && r.attempt === u.attempt)) v.runs.push({ run_id: u.run_id, attempt: u.attempt });
      }
      out.push({ name: p.display_name, normalized: p.name, versions: [...versions.values()].sort((a, b) => compareVersions(a.version, b.version)) });
    }
    return out;
  }
}

export interface VersionListing {
  version: string;
  yanked: boolean;
  yanked_reason: string | null;
  files: { filename: string; sha256: string; size: number; uploaded_at: string; uploaded_by: string }[];
  runs: { run_id: string; attempt: number }[];
}

export interface PackageListing {
  name: string;
  normalized: string;
  versions: VersionListing[];
}

function buildPage(display: string, serial: number, files: readonly PypiFilesTable[]): Page {
  const links: string[] = [];
  const jsonFiles: unknown[] = [];
  const versions: string[] = [];
  for (const f of files) {
    if (versions[versions.length - 1] !== f.version) versions.push(f.version);
    const href = `${fileHref(f)}#sha256=${f.sha256}`;
    let attrs = `href="${html(href)}"`;
    if (f.requires_python) attrs += ` data-requires-python="${html(f.requires_python)}"`;
    if (f.yanked) attrs += ` data-yanked="${html(f.yanked_reason ?? '')}"`;
    if (f.metadata_sha256) attrs += ` data-core-metadata="sha256=${f.metadata_sha256}" data-dist-info-metadata="sha256=${f.metadata_sha256}"`;
    links.push(`<a ${attrs}>${html(f.filename)}</a><br/>`);
    const meta = f.metadata_sha256 ? { sha256: f.metadata_sha256 } : false;
    jsonFiles.push({
      filename: f.filename,
      url: fileHref(f),
      hashes: { sha256: f.sha256 },
      'requires-python': f.requires_python ?? undefined,
      yanked: f.yanked ? f.yanked_reason || true : false,
      'core-metadata': meta,
      // PEP 714 renamed the key to core-metadata because pip 23.0 (Debian 12's) reads the old key as a
      // string "sha256=…" and fails on the object PEP 691 specified: it gets the string it understands;
      // newer pips read core-metadata first.
      ...(f.metadata_sha256 ? { 'dist-info-metadata': `sha256=${f.metadata_sha256}` } : {}),
      size: Number(f.size),
      'upload-time': new Date(Number(f.uploaded_at)).toISOString(),
    });
  }
  return withBodies({
    etag: `"${normalize(display)}-${serial}"`,
    html: `<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.1"><title>Links for ${html(display)}</title></head><body>\n<h1>Links for ${html(display)}</h1>\n${links.join('\n')}\n</body></html>\n`,
    json: JSON.stringify({ meta: { 'api-version': '1.1' }, name: normalize(display), files: jsonFiles, versions }),
  });
}
