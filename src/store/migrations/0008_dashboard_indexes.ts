/**
 * 0008: indexes for the dashboard's run filters, so that each filter's first page (and every later page, by
 * keyset cursor) is an index range scan, however long the history. Without them, filtering a million runs by
 * state read the whole state's rows and sorted them (0.4 s; 0.8 s for a later page). See docs/dashboard.md.
 */
import type { Kysely, Migration } from 'kysely';

export const m0008: Migration = {
  async up(db: Kysely<any>) {
    // One state, newest first: "failed", "running".
    await db.schema.createIndex('runs_state_created').on('runs').columns(['state', 'created_at', 'id']).execute();
    // One trigger, newest first: "backfill", "manual".
    await db.schema.createIndex('runs_trigger_created').on('runs').columns(['trigger', 'created_at', 'id']).execute();
    // One job, newest first, with the id that breaks ties in the cursor; it serves everything runs_job did.
    await db.schema.createIndex('runs_job_created').on('runs').columns(['project', 'job', 'created_at', 'id']).execute();
    // One job in one state ("the failures of train"): a rare state no longer means reading the job's history.
    await db.schema.createIndex('runs_job_state_created').on('runs').columns(['project', 'job', 'state', 'created_at', 'id']).execute();
    await db.schema.dropIndex('runs_job').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.createIndex('runs_job').on('runs').columns(['project', 'job', 'created_at']).execute();
    for (const name of ['runs_state_created', 'runs_trigger_created', 'runs_job_created', 'runs_job_state_created']) await db.schema.dropIndex(name).execute();
  },
};
