/**
 * 0010: a stable `reason_code` beside the free-text `reason` of runs and attempts (src/model/reasons.ts).
 * Rows written before it get the code their state and reason text tell for certain; the rest stay null.
 */
import { type Kysely, type Migration } from 'kysely';

/** The codes the text of earlier versions tells, first match wins; then the state alone. */
const BY_TEXT: readonly [pattern: string, code: string][] = [
  ['killed: out of memory%', 'out_of_memory'],
  ['killed by %', 'signal'],
  ['exit code %', 'exit_code'],
  ['could not start:%', 'could_not_start'],
  ['secret%', 'missing_secret'],
  ['lost: the worker shut down%', 'shutdown'],
  ['lost: the worker restarted%', 'node_failure'],
  ['lost:%', 'lost'],
];
const BY_STATE: readonly [state: string, code: string][] = [
  ['timed_out', 'time_limit'],
  ['cancelled', 'cancelled'],
  ['lost', 'lost'],
];

export const m0010: Migration = {
  async up(db: Kysely<any>) {
    for (const table of ['runs', 'attempts']) {
      await db.schema.alterTable(table).addColumn('reason_code', 'varchar(40)').execute();
      for (const [state, code] of BY_STATE) {
        await db.updateTable(table).set({ reason_code: code }).where('state', '=', state).where('reason_code', 'is', null).execute();
      }
      for (const [pattern, code] of BY_TEXT) {
        await db.updateTable(table).set({ reason_code: code }).where('reason', 'like', pattern).where('reason_code', 'is', null).where('state', '<>', 'succeeded').execute();
      }
    }
  },
};
