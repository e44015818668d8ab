/** Which internal package versions each attempt's environment held (shown by `kairos packages` and the dashboard). */
import type { Q } from '../store/runs.js';
import { normalize } from './names.js';

/** Records the packages of `packages` that are projects of the internal index. */
export async function recordPackageUsage(q: Q, runId: string, attempt: number, packages: readonly { name: string; version: string }[], now: number): Promise<void> {
  if (packages.length === 0) return;
  const byName = new Map(packages.map((p) => [normalize(p.name), p.version]));
  const names = [...byName.keys()];
  const internal: string[] = [];
  for (let i = 0; i < names.length; i += 500) {
    const rows = await q.selectFrom('pypi_projects').select('name').where('name', 'in', names.slice(i, i + 500)).execute();
    internal.push(...rows.map((r) => r.name));
  }
  if (internal.length === 0) return;
  const rows = internal.map((project) => ({ run_id: runId, attempt, project, version: byName.get(project) ?? '', recorded_at: now }));
  await q.insertInto('pypi_usage').values(rows).onConflict((oc) => oc.doNothing()).execute();
}
