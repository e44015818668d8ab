/**
 * 0011: a job's runs by logical time (`scheduled_for`: the tick, the original's for a rerun, the creation for
 * an ad-hoc run). The job page plots metrics against logical time over a range ("the last 30 days"); a
 * backfill creates old logical times today, so the creation-time index cannot answer that. With this index
 * the range (and "the newest N") is one index range scan, however long the job's history.
 */
import type { Kysely, Migration } from 'kysely';

export const m0011: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.createIndex('runs_job_logical').on('runs').columns(['project', 'job', 'scheduled_for', 'id']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('runs_job_logical').execute();
  },
};
