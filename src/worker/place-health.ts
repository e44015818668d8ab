/**
 * A place's own health, as `kairos doctor` shows it for each worker (docs/network.md). Each place kind
 * registers its checks here (the Slurm controller reachable, podman working, the Kubernetes API and its
 * permissions…); a worker runs those of its place when the doctor probes it and reports them as `placeHealth`.
 */
import { existsSync } from 'node:fs';
import type { PlaceHealth } from '../protocol/worker.js';
import type { Sandbox } from './places/sandbox.js';

/** What a check may look at: the worker's place and its settings. */
export interface PlaceHealthContext {
  /** `local` today; other places register under their own name. */
  readonly place: string;
  readonly dataDir: string;
  /** The sandbox in use (null: jobs run unsandboxed). */
  readonly sandbox: Sandbox | null;
}

export interface PlaceHealthCheck {
  readonly name: string;
  /** The places it applies to. */
  readonly places: readonly string[];
  run(c: PlaceHealthContext): Promise<PlaceHealth>;
}

const checks: PlaceHealthCheck[] = [];

/** Adds a check (a place's module registers its own at import); the same name replaces the earlier one. */
export function registerPlaceHealthCheck(check: PlaceHealthCheck): void {
  const i = checks.findIndex((c) => c.name === check.name);
  if (i >= 0) checks[i] = check;
  else checks.push(check);
}

export async function placeHealth(c: PlaceHealthContext): Promise<PlaceHealth[]> {
  const out: PlaceHealth[] = [];
  for (const check of checks.filter((k) => k.places.includes(c.place))) {
    try {
      out.push(await check.run(c));
    } catch (err) {
      out.push({ name: check.name, ok: false, detail: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

registerPlaceHealthCheck({
  name: 'data directory',
  places: ['local'],
  async run({ dataDir }) {
    return existsSync(dataDir) ? { name: 'data directory', ok: true, detail: dataDir } : { name: 'data directory', ok: false, detail: `${dataDir} is missing` };
  },
});
registerPlaceHealthCheck({
  name: 'sandbox',
  places: ['local'],
  async run({ sandbox }) {
    return { name: 'sandbox', ok: true, detail: !sandbox ? 'none: jobs run unsandboxed' : sandbox.kind === 'native' ? `namespaces made by the launcher (${sandbox.launcher})` : `bubblewrap (${sandbox.bwrap})` };
  },
});
