/**
 * The checks of `kairos deploy` as they run, on stderr: on a terminal a spinner names the running step and
 * each check leaves one line as it ends; otherwise one plain line as a step starts and one as each check
 * ends (CI logs show where the time went).
 */
import type { CheckProgress, CheckStatus } from '../check/index.js';
import type { Io } from './output.js';
import { startProgress, type Progress } from './progress.js';

const LABEL: Record<CheckStatus, string> = { pass: 'ok', fail: 'FAIL', warn: 'warn', skip: 'skip' };
const COLOUR: Record<CheckStatus, string> = { pass: '32', fail: '31', warn: '33', skip: '2' };

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function checkProgress(io: Io): { on(e: CheckProgress): void; done(): void } {
  let spinner: Progress | null = null;
  return {
    on(e) {
      if (e.kind === 'start') {
        if (!io.errTty) {
          io.err(`kairos: checking ${e.name}…\n`);
          return;
        }
        if (spinner) spinner.update(`checking ${e.name}`);
        else spinner = startProgress(io, `checking ${e.name}`, 0);
        return;
      }
      const c = e.check;
      const took = e.ms >= 100 ? ` (${secs(e.ms)})` : '';
      if (!io.errTty) {
        io.err(`kairos: ${LABEL[c.status]} ${c.group} ${c.name}: ${c.message}${took}\n`);
        return;
      }
      spinner?.done();
      spinner = null;
      io.err(`\u001b[${COLOUR[c.status]}m${LABEL[c.status].padEnd(4)}\u001b[0m  ${c.group.padEnd(13)} ${c.name}  ${c.message}${took}\n`);
    },
    done() {
      spinner?.done();
      spinner = null;
    },
  };
}
