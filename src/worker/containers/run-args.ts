/**
 * The `podman run` arguments of an attempt whose spec names an image (used by the local place's container
 * mode, ../places/container.ts, and by `kairos check`): mounts at the same paths, variables by name only,
 * limits, GPUs, network, `--init`. See docs/containers.md.
 */
import { existsSync } from 'node:fs';
import type { RunCommand } from '../../model/job.js';
import type { PlaceAttemptSpec } from '../places/place.js';
import type { PodmanSettings } from './podman.js';

/** Variables podman itself reads: given on its command line (`--env NAME=VALUE`), not through its environment. */
const PODMAN_OWN = /^(PATH|HOME|TMPDIR|USER|LD_[A-Z_]+|XDG_[A-Z_]+|CONTAINERS_[A-Z_]+|CONTAINER_[A-Z_]+|REGISTRY_AUTH_FILE|BUILDAH_[A-Z_]+|STORAGE_[A-Z_]+|DOCKER_[A-Z_]+|TZ|LANG|LC_[A-Z]+)$/;

const GPU_CONTROL_DEVICES = ['/dev/nvidiactl', '/dev/nvidia-uvm', '/dev/nvidia-uvm-tools', '/dev/nvidia-modeset'];

export interface ContainerLabels {
  readonly podman: PodmanSettings;
  /** Label of this worker's containers (and prefix of their parent cgroups). */
  readonly workerLabel: string;
}

/** Paths become `-v SRC:DST:MODE`: a path with `:` or `,` would be misread there. */
function mountable(p: string): string {
  if (/[:,\n]/.test(p)) throw new Error(`cannot mount ${JSON.stringify(p)} into a container (a path with ':' or ',')`);
  return p;
}

function under(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir.endsWith('/') ? dir : `${dir}/`);
}

/** The `podman run` arguments (after the global ones) for an attempt, and the variables podman's own environment carries. */
export function containerRunArgs(
  o: ContainerLabels,
  spec: PlaceAttemptSpec,
  env: Readonly<Record<string, string>>,
  devices: readonly string[],
  cgroupParent: string | null,
): { args: string[]; podmanEnv: Record<string, string> } {
  const image = spec.image;
  if (!image) throw new Error('not a container attempt');
  const args = ['run', '--name', spec.name, '--init', '--sig-proxy=false', '--pull=never', '--label', `kairos.worker=${o.workerLabel}`, '--label', `kairos.attempt=${spec.name}`];
  args.push('--network', image.network ?? 'host', '--workdir', mountable(spec.cwd), '--entrypoint=');
  const mounts = new Map<string, 'ro' | 'rw'>();
  for (const p of spec.paths.readOnly) if (existsSync(p)) mounts.set(mountable(p), 'ro');
  for (const p of [...spec.paths.writable, ...spec.paths.writableFiles]) mounts.set(mountable(p), 'rw');
  // The working directory is always there (read-only unless it is one of the writable paths).
  if (![...mounts.keys()].some((m) => under(spec.cwd, m))) mounts.set(spec.cwd, 'ro');
  for (const [p, mode] of [...mounts].sort(([a], [b]) => a.length - b.length)) args.push('--volume', `${p}:${p}:${mode}`);
  const r = spec.resources;
  if (r.memoryBytes !== undefined) args.push('--memory', `${r.memoryBytes}b`, '--memory-swap', `${r.memoryBytes}b`);
  if (r.cpu !== undefined) args.push('--cpus', String(r.cpu));
  if (cgroupParent) args.push('--cgroup-parent', cgroupParent);
  if (devices.length > 0) {
    for (const d of devices) if (existsSync(`/dev/nvidia${d}`)) args.push('--device', `/dev/nvidia${d}`);
    for (const d of GPU_CONTROL_DEVICES) if (existsSync(d)) args.push('--device', d);
  }
  const podmanEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (PODMAN_OWN.test(k)) args.push('--env', `${k}=${v}`);
    else {
      args.push('--env', k);
      podmanEnv[k] = v;
    }
  }
  args.push(...o.podman.runArgs, image.ref);
  const command: RunCommand = spec.command;
  args.push(...(command.kind === 'shell' ? ['/bin/sh', '-c', command.script] : command.argv));
  return { args, podmanEnv };
}

