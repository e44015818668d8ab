/**
 * Container environments on one machine: the image a job runs in, found, pulled or built, and pinned by digest.
 *
 * - `image: REF`: used as it is when this machine's podman has it, else pulled. The attempt records the
 *   digest, so a rerun pulls exactly those bytes (`repo@sha256:…`) even after the tag moved on.
 * - `containerfile: PATH`: tagged `kairos-env:<content hash>` (the hash covers the Containerfile and every file
 *   of its context), built once per hash: one process builds while the others on this machine wait on a lock
 *   file (as for Python environments). With a team registry (`kairos server --registry`) the tag lives there:
 *   a worker that lacks it pulls it before building, and one that built it pushes it, so each hash is built
 *   about once per team, and the pinned reference any machine (or Kubernetes) can pull is `repo@sha256:…`.
 *
 * Builds run with `--layers=false` and `--force-rm`: no intermediate images or containers are left behind.
 */
import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ContainerEnvironment } from '../../model/job.js';
import { podman, podmanError, type PodmanSettings } from '../containers/podman.js';
import { EnvError } from './inputs.js';
import { withLock } from './lock.js';

/** Bumped when the way images are built changes, so old builds are not reused by mistake. */
const IMAGE_FORMAT = 1;

/** The team's registry: `HOST:PORT[/PREFIX]`, or with `http://` in front for one without TLS (a loopback test registry). */
export interface Registry {
  /** `HOST:PORT` or `HOST:PORT/PREFIX`: where Kairos' images go, as an image reference starts. */
  readonly base: string;
  /** `HOST:PORT`. */
  readonly host: string;
  readonly tlsVerify: boolean;
}

/** Parses `--registry`; null when it is not `[http://|https://]HOST[:PORT][/PREFIX]`. */
export function parseRegistry(value: string): Registry | null {
  const m = /^(https?:\/\/)?([a-z0-9]([a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?)(\/[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)?\/?$/.exec(value.trim());
  if (!m) return null;
  const host = m[2] as string;
  return { base: `${host}${m[4] ?? ''}`, host, tlsVerify: m[1] !== 'http://' };
}

/** What the attempt ran, as recorded with it: a reference any machine can pull (`repo@sha256:…`) and the digest. */
export interface RecordedImage {
  readonly ref: string;
  readonly digest: string;
}

export interface PreparedImage extends RecordedImage {
  /** For the attempt's record (its environment hash): the image's digest. */
  readonly hash: string;
  /** True when this call built it. */
  readonly built: boolean;
}

/** A reference without its tag and digest: `host:5000/team/etl:1@sha256:…` → `host:5000/team/etl`. */
export function repositoryOf(ref: string): string {
  const noDigest = ref.split('@')[0] as string;
  const slash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > slash ? noDigest.slice(0, colon) : noDigest;
}

/**
 * The content hash of a containerfile environment: the Containerfile's bytes and every file of the context
 * (path, executable bit, content; a symlink by its target). Editing any of them makes a new image.
 */
export function containerfileHash(env: Extract<ContainerEnvironment, { kind: 'containerfile' }>, projectDir: string): string {
  const inside = (rel: string, what: string) => {
    const abs = path.resolve(projectDir, rel);
    const back = path.relative(projectDir, abs);
    if (back.startsWith('..') || path.isAbsolute(back)) throw new EnvError(`${what} ${rel} is outside the project directory`);
    return abs;
  };
  const file = inside(env.containerfile, 'the containerfile');
  const context = inside(env.context, 'the build context');
  const h = createHash('sha256').update(JSON.stringify({ format: IMAGE_FORMAT, containerfile: env.containerfile, context: env.context, network: env.network }));
  try {
    h.update('\0containerfile\0').update(readFileSync(file));
  } catch {
    throw new EnvError(`containerfile ${env.containerfile} not found in the project`);
  }
  try {
    if (!statSync(context).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new EnvError(`build context ${env.context} is not a directory of the project`);
  }
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = path.join(dir, name);
      const st = lstatSync(abs);
      if (st.isDirectory()) walk(abs, `${rel}${name}/`);
      else if (st.isSymbolicLink()) h.update(`\0l\0${rel}${name}\0${readlinkSync(abs)}`);
      else if (st.isFile()) h.update(`\0f\0${rel}${name}\0${st.mode & 0o111 ? 'x' : '-'}\0`).update(readFileSync(abs));
    }
  };
  walk(context, '');
  return h.digest('hex');
}

interface Inspected {
  readonly id: string;
  readonly digest: string;
  readonly repoDigests: readonly string[];
}

export class ImageCache {
  private readonly locks: string;

  constructor(
    readonly podman: PodmanSettings,
    /** A directory of this machine's lock files (shared by every worker on it). */
    locksDir: string,
  ) {
    this.locks = locksDir;
    mkdirSync(locksDir, { recursive: true });
  }

  private tls(ref: string, registry: Registry | null): string[] {
    return registry && !registry.tlsVerify && ref.startsWith(`${registry.host}/`) ? ['--tls-verify=false'] : [];
  }

  private async inspect(ref: string): Promise<Inspected | null> {
    const r = await podman(this.podman, ['image', 'inspect', ref], { timeoutMs: 60_000 });
    if (r.code !== 0) return null;
    try {
      const [image] = JSON.parse(r.stdout) as { Id?: string; Digest?: string; RepoDigests?: string[] | null }[];
      if (!image?.Id || !image.Digest) return null;
      return { id: image.Id, digest: image.Digest, repoDigests: image.RepoDigests ?? [] };
    } catch {
      return null;
    }
  }

  private async pull(ref: string, registry: Registry | null, log: (line: string) => void): Promise<string | null> {
    log(`[kairos] pulling image ${ref}`);
    const r = await podman(this.podman, ['pull', '--quiet', ...this.tls(ref, registry), ref], { timeoutMs: 3_600_000 });
    return r.code === 0 ? null : podmanError(r);
  }

  /** The pinned reference of a local image: `repo@digest` as podman knows it (so it runs without a pull). */
  private pinned(ref: string, found: Inspected): RecordedImage {
    const repo = repositoryOf(ref);
    const match = found.repoDigests.find((d) => d === `${repo}@${found.digest}`) ?? found.repoDigests.find((d) => d.endsWith(`/${repo}@${found.digest}`)) ?? found.repoDigests.find((d) => d.endsWith(`@${found.digest}`));
    return { ref: match ?? `${repo}@${found.digest}`, digest: found.digest };
  }

  /** Makes sure this machine has `ref` (pulling it when not); the podman error when it can have it. */
  private async ensure(ref: string, registry: Registry | null, log: (line: string) => void): Promise<Inspected> {
    const have = await this.inspect(ref);
    if (have) return have;
    const err = await this.pull(ref, registry, log);
    const got = err === null ? await this.inspect(ref) : null;
    if (!got) throw new EnvError(`image ${ref} is not on this machine and could not be pulled: ${err ?? 'not found after the pull'}`);
    return got;
  }

  /**
   * The image `env` runs in on this machine, present locally and pinned by digest. `pinned`: the image an
   * earlier attempt ran (a retry or rerun), used again exactly.
   */
  async prepare(env: ContainerEnvironment, projectDir: string, registry: Registry | null, pinned: RecordedImage | null, log: (line: string) => void): Promise<PreparedImage> {
    if (pinned) {
      const found = await this.ensure(pinned.ref, registry, log).catch((err: unknown) => {
        throw new EnvError(`the image recorded with the original run (${pinned.ref}) is not available: ${err instanceof Error ? err.message : String(err)}`);
      });
      if (found.digest !== pinned.digest && !found.repoDigests.some((d) => d.endsWith(`@${pinned.digest}`))) {
        throw new EnvError(`image ${pinned.ref} here is not the one recorded with the original run (${pinned.digest})`);
      }
      log(`[kairos] environment ${env.name}: image ${pinned.ref}, as recorded with the original run`);
      return { ...pinned, hash: pinned.digest, built: false };
    }
    if (env.kind === 'image') {
      const found = await this.ensure(env.image, registry, log);
      const p = this.pinned(env.image, found);
      log(`[kairos] environment ${env.name}: image ${env.image} (${p.digest})`);
      return { ...p, hash: p.digest, built: false };
    }
    return this.buildOnce(env, projectDir, registry, log);
  }

  private async buildOnce(env: Extract<ContainerEnvironment, { kind: 'containerfile' }>, projectDir: string, registry: Registry | null, log: (line: string) => void): Promise<PreparedImage> {
    const hash = containerfileHash(env, projectDir);
    const tag = `${registry ? registry.base : 'localhost'}/kairos-env:${hash}`;
    const short = hash.slice(0, 12);
    return withLock(
      path.join(this.locks, `image-${hash}.lock`),
      async () => {
        const local = await this.inspect(tag);
        if (local) {
          log(`[kairos] environment ${env.name}: image ${short} is ready`);
          const p = await this.published(tag, local, registry, log);
          return { ...p, hash: p.digest, built: false };
        }
        if (registry && (await this.pull(tag, registry, () => {})) === null) {
          const pulled = await this.inspect(tag);
          if (pulled) {
            log(`[kairos] environment ${env.name}: image ${short} pulled from the team's registry`);
            const p = this.pinned(tag, pulled);
            return { ...p, hash: p.digest, built: false };
          }
        }
        const started = Date.now();
        log(`[kairos] building environment ${env.name} (containerfile ${env.containerfile}, context ${env.context}) ${short}: once per content hash, then reused`);
        const ticker = setInterval(() => log(`[kairos] still building environment ${env.name} (${Math.round((Date.now() - started) / 1000)} s)`), 10_000);
        let r;
        try {
          r = await podman(
            this.podman,
            ['build', ...this.podman.runArgs, '--network', env.network, '--layers=false', '--force-rm', '--quiet', '--label', `kairos.env.hash=${hash}`, '-f', path.resolve(projectDir, env.containerfile), '-t', tag, path.resolve(projectDir, env.context)],
            { timeoutMs: 3_600_000 },
          );
        } finally {
          clearInterval(ticker);
        }
        if (r.code !== 0) throw new EnvError(`environment ${env.name} could not be built: podman build failed (${podmanError(r)})`);
        const built = await this.inspect(tag);
        if (!built) throw new EnvError(`environment ${env.name}: podman build made no image ${tag}`);
        log(`[kairos] environment ${env.name} built in ${((Date.now() - started) / 1000).toFixed(1)} s: image ${short}`);
        const p = await this.published(tag, built, registry, log);
        return { ...p, hash: p.digest, built: true };
      },
      { onWait: (pid) => log(`[kairos] waiting for environment ${env.name} (${short}), which ${pid === null ? 'another process' : `process ${pid}`} is building`) },
    );
  }

  /**
   * A built image's pinned reference: with a registry, pushed there (again, if it was pushed before: cheap,
   * and it repairs a registry that lost it) and pinned by the registry's digest; else by the local digest.
   */
  private async published(tag: string, image: Inspected, registry: Registry | null, log: (line: string) => void): Promise<RecordedImage> {
    if (!registry) return this.pinned(tag, image);
    // Pushed from here before: the registry's digest was noted (podman also lists a local digest under the
    // registry's name, which the registry never saw, so RepoDigests alone cannot tell).
    const note = path.join(this.locks, `pushed-${createHash('sha256').update(`${tag}\0${image.id}`).digest('hex')}`);
    const noted = await readFile(note, 'utf8').catch(() => null);
    if (noted && image.repoDigests.includes(noted.trim())) {
      const ref = noted.trim();
      return { ref, digest: ref.slice(ref.indexOf('@') + 1) };
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'kairos-push-'));
    try {
      const file = path.join(dir, 'digest');
      const r = await podman(this.podman, ['push', '--quiet', ...this.tls(tag, registry), '--digestfile', file, tag], { timeoutMs: 3_600_000 });
      if (r.code !== 0) throw new EnvError(`image ${tag} could not be pushed to the team's registry: ${podmanError(r)}`);
      const digest = (await readFile(file, 'utf8')).trim();
      const ref = `${repositoryOf(tag)}@${digest}`;
      log(`[kairos] image pushed to the team's registry: ${ref}`);
      // Pulled back by digest (the layers are here: quick), so this machine knows the pinned reference too.
      if ((await this.pull(ref, registry, () => {})) === null) await writeFile(note, ref);
      return { ref, digest };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
