/** The text form of a check report: one line per check, colours only on a terminal. */
import type { CheckReport, CheckStatus } from './types.js';

const LABEL: Record<CheckStatus, string> = { pass: 'ok', fail: 'FAIL', warn: 'warn', skip: 'skip' };
const COLOUR: Record<CheckStatus, string> = { pass: '\x1b[32m', fail: '\x1b[31m', warn: '\x1b[33m', skip: '\x1b[2m' };
const RESET = '\x1b[0m';

export function formatReport(report: CheckReport, opts: { color: boolean; details?: boolean }): string {
  const paint = (s: CheckStatus, text: string) => (opts.color ? `${COLOUR[s]}${text}${RESET}` : text);
  const width = Math.max(...report.checks.map((c) => c.name.length), 8);
  const out: string[] = [];
  for (const c of report.checks) {
    out.push(`${paint(c.status, LABEL[c.status].padEnd(4))}  ${c.group.padEnd(13)} ${c.name.padEnd(width)}  ${c.message}`);
    // Details matter where something went wrong; a passing check's list stays in --json.
    if ((opts.details ?? true) && c.details && c.details.length > 0 && c.status !== 'pass') for (const d of c.details) out.push(`      | ${d}`);
  }
  const { pass, fail, warn, skip } = report.counts;
  const summary = `${fail === 0 ? 'checks passed' : 'checks failed'}: ${pass} ok, ${fail} failed, ${warn} warning${warn === 1 ? '' : 's'}, ${skip} skipped`;
  out.push(paint(fail === 0 ? 'pass' : 'fail', summary));
  return out.join('\n') + '\n';
}
