/** `kairos doctor [--project P] [--json]`: is everything here right? Exit 1 when something is wrong. */
import { API, type DoctorView } from '../api/contract/index.js';
import { stringOption } from './args.js';
import type { Command } from './command.js';
import { EXIT, table, type Io } from './output.js';

const mark = (ok: boolean) => (ok ? 'ok' : 'FAIL');

function ms(v: number | null): string {
  return v === null ? '-' : `${Math.round(v * 10) / 10} ms`;
}

export function printDoctor(d: DoctorView, io: Io): void {
  const s = d.server;
  io.out(`server      ${mark(s.ok)}  kairos ${s.version}, ${s.database_version ?? 'database not answering'} (${s.dialect}), database clock offset ${s.database_clock_offset_ms} ms\n`);
  for (const c of d.checks) io.out(`${c.name.padEnd(11)} ${mark(c.ok)}  ${c.detail ?? ''}\n`);
  io.out('\n');
  if (d.workers.length === 0) io.out('workers: none registered\n');
  else {
    io.out(
      table(
        ['WORKER', 'HOST', 'POOLS', 'ALIVE', 'PLACE', 'CLOCK', 'PLACE HEALTH', ''],
        d.workers.map((w) => [
          w.id,
          w.host,
          w.pools.join(','),
          w.alive ? (w.answered ? 'yes' : 'yes (no answer)') : 'no',
          w.place ?? '-',
          w.clock_offset_ms === null ? '-' : `${w.clock_offset_ms >= 0 ? '+' : ''}${w.clock_offset_ms} ms`,
          w.place_health.map((p) => `${p.name} ${p.ok ? 'ok' : `FAIL (${p.detail ?? ''})`}`).join('; ') || '-',
          mark(w.ok),
        ]),
      ),
    );
  }
  const { endpoints, matrix } = d.network;
  if (endpoints.length > 0) {
    io.out('\nnetwork (workers × endpoints the jobs need):\n');
    const workers = [...new Set(matrix.map((c) => c.worker))];
    io.out(
      table(
        ['ENDPOINT', ...workers],
        endpoints.map((e) => [
          e.endpoint,
          ...workers.map((w) => {
            const c = matrix.find((x) => x.worker === w && x.endpoint === e.endpoint);
            if (!c || c.result === null) return 'not checked';
            return `${c.result === 'ok' ? 'ok' : c.result} ${ms(c.latency_ms)}${c.live ? '' : ' (last known)'}`;
          }),
        ]),
      ),
    );
  }
  io.out('\n');
  if (d.problems.length === 0) io.out('everything looks right\n');
  else {
    io.out(`${d.problems.length} problem${d.problems.length === 1 ? '' : 's'}:\n`);
    for (const p of d.problems) io.out(`  - ${p}\n`);
  }
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: "checks the server, its database, the workers and their places, and the jobs' network needs from every worker, live; exit 1 when something is wrong",
  usage: 'doctor [--project P] [--json]',
  options: { project: { type: 'string' } },
  positionals: { min: 0, max: 0 },
  async run(p, { io, client }) {
    const project = stringOption(p.values.project);
    const d = await client(p).call(API.network.doctor, { query: project === undefined ? {} : { project }, timeoutMs: 120_000 });
    if (p.globals.json) io.out(JSON.stringify(d, null, 2) + '\n');
    else printDoctor(d, io);
    return d.ok ? EXIT.ok : EXIT.failed;
  },
};
