import type { LogLineView } from '../api/client.js';
import type { Command } from './command.js';
import { printLine } from './logs-print.js';
import { startProgress } from './progress.js';
import { onRun } from './run-id.js';

export const logsCommand: Command = {
  name: 'logs',
  summary: "a run's log (--follow: live until the run ends)",
  usage: 'logs RUN [--follow] [--json]',
  options: { follow: { type: 'boolean', short: 'f' } },
  positionals: { min: 1, max: 1 },
  async run(p, { io, client: mk }) {
    const client = mk(p);
    return onRun(p.positionals[0] ?? '', p.globals.server, async (id) => {
    // --json prints one JSON object per line (seq, attempt, ts, stream, line), so it can be streamed.
    const emit = (l: LogLineView) => {
      if (p.globals.json) io.out(JSON.stringify({ seq: l.seq, attempt: l.attempt, ts: l.ts, stream: l.stream, line: l.line }) + '\n');
      else printLine(l, io);
    };
    if (p.values.follow === true) {
      for await (const ev of client.followLogs(id, 0)) {
        if (ev.type === 'line') emit(ev);
      }
      return;
    }
    let after = 0;
    let count = 0;
    // On a terminal the lines themselves show progress; when stdout is piped, say how far we are on stderr.
    const progress = io.tty || p.globals.json ? { update() {}, done() {} } : startProgress(io, `fetching the log of ${id}`);
    try {
      for (;;) {
        const page = await client.logs(id, after, 10_000);
        for (const l of page.lines) emit(l);
        count += page.lines.length;
        progress.update(`fetched ${count} lines of ${id}`);
        after = page.next_after;
        if (!page.more) break;
      }
    } finally {
      progress.done();
    }
    });
  },
};
