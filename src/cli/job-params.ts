/** How a job's parameters read on the command line: `kairos jobs` and `kairos run JOB --help`. */
import type { JobListing } from '../api/client.js';
import { table } from './output.js';

type Params = JobListing['params'];

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

/** One cell: `epochs:integer=10, split:string{train|test}!` (`!`: required, no default). */
export function paramsCell(params: Params): string {
  const names = Object.keys(params);
  if (names.length === 0) return '-';
  return names
    .map((n) => {
      const p = params[n];
      if (!p) return n;
      const values = p.enum ? `{${p.enum.map(show).join('|')}}` : '';
      const dflt = p.default !== undefined ? `=${show(p.default)}` : p.required ? '!' : '';
      return `${n}:${p.type}${values}${dflt}`;
    })
    .join(', ');
}

/** `2 cpu, 4.0 GiB, 1 gpu`, or `-`. */
export function resourcesCell(r: JobListing['resources']): string {
  if (!r) return '-';
  const parts: string[] = [];
  if (r.cpu !== null) parts.push(`${r.cpu} cpu`);
  if (r.memory_bytes !== null) parts.push(r.memory_bytes >= 1024 ** 3 ? `${(r.memory_bytes / 1024 ** 3).toFixed(1)} GiB` : `${Math.round(r.memory_bytes / 1024 ** 2)} MiB`);
  if (r.gpu !== null) parts.push(`${r.gpu} gpu`);
  return parts.length > 0 ? parts.join(', ') : '-';
}

/** The parameters of one job as `kairos run JOB --help` shows them, with an example command. */
export function paramsHelp(job: JobListing): string {
  const head = `${job.project}/${job.name} (deployment v${job.deployment_version})${job.description ? `: ${job.description}` : ''}`;
  const names = Object.keys(job.params);
  if (names.length === 0) return `${head}\nno parameters\n`;
  const rows = names.map((n) => {
    const p = job.params[n];
    if (!p) return [n, '', '', '', ''];
    return [n, p.type, p.default !== undefined ? show(p.default) : p.required ? '(required)' : '-', p.enum ? p.enum.map(show).join(' | ') : '-', p.description ?? ''];
  });
  const example = names.map((n) => {
    const p = job.params[n];
    const v = p?.default ?? p?.enum?.[0] ?? (p?.type === 'integer' ? 1 : p?.type === 'number' ? 0.5 : p?.type === 'boolean' ? true : p?.type === 'date' ? '2026-01-01' : 'VALUE');
    return `-p ${n}=${show(v)}`;
  });
  return `${head}\nparameters (-p NAME=VALUE; each reaches the job as KAIROS_PARAM_<NAME>):\n${table(['NAME', 'TYPE', 'DEFAULT', 'VALUES', 'DESCRIPTION'], rows).replace(/^/gm, '  ').trimEnd()}\nexample: kairos run ${job.name} ${example.join(' ')}\n`;
}
