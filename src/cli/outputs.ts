import type { Command } from './command.js';
import { onRun } from './run-id.js';
import { table } from './output.js';

export const outputsCommand: Command = {
  name: 'outputs',
  summary: "a run's metrics (from KAIROS_OUTPUT) and artifacts (left in KAIROS_ARTIFACTS)",
  usage: 'outputs RUN [--json]',
  options: {},
  positionals: { min: 1, max: 1 },
  async run(p, { io, client }) {
    const out = await onRun(p.positionals[0] ?? '', p.globals.server, (id) => client(p).outputs(id));
    if (p.globals.json) {
      io.out(JSON.stringify(out, null, 2) + '\n');
      return;
    }
    if (out.metrics.length === 0 && out.artifacts.length === 0) {
      io.err('no metrics or artifacts\n');
      return;
    }
    if (out.metrics.length > 0) io.out(table(['ATTEMPT', 'METRIC', 'VALUE', 'STEP'], out.metrics.map((m) => [String(m.attempt), m.name, String(m.value), m.step === null ? '-' : String(m.step)])));
    if (out.metrics.length > 0 && out.artifacts.length > 0) io.out('\n');
    if (out.artifacts.length > 0) io.out(table(['ATTEMPT', 'ARTIFACT', 'SIZE', 'SHA-256'], out.artifacts.map((a) => [String(a.attempt), a.path, String(a.size), a.sha256.slice(0, 16)])));
  },
};
