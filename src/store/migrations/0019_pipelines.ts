/**
 * 0019 pipelines (docs/pipelines.md): a pipeline run (its own id, state, logical time and params) and the
 * step runs it made. Step runs are ordinary rows of `runs`; `pipeline_steps` links them to their pipeline run
 * (a run carried over by `rerun --from-failed` is linked to both). At most one pipeline run per (schedule,
 * instant), like runs. Portable: Kysely's schema builder only.
 */
import { sql, type Kysely, type Migration } from 'kysely';

export const m0019Pipelines: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('pipeline_runs')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('project', 'varchar(100)', (c) => c.notNull())
      .addColumn('pipeline', 'varchar(100)', (c) => c.notNull())
      .addColumn('deployment_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('state', 'varchar(20)', (c) => c.notNull())
      .addColumn('trigger', 'varchar(20)', (c) => c.notNull())
      .addColumn('params_json', 'text', (c) => c.notNull())
      .addColumn('scheduled_for', 'bigint', (c) => c.notNull())
      .addColumn('schedule_id', 'varchar(240)')
      .addColumn('rerun_of', 'varchar(40)')
      .addColumn('cancel_requested', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('finished_at', 'bigint')
      .addColumn('reason', 'text')
      .addUniqueConstraint('pipeline_runs_schedule_instant', ['schedule_id', 'scheduled_for'])
      .addCheckConstraint('pipeline_runs_state_check', sqlCheck())
      .execute();
    await db.schema.createIndex('pipeline_runs_created').on('pipeline_runs').columns(['created_at', 'id']).execute();
    await db.schema.createIndex('pipeline_runs_state').on('pipeline_runs').columns(['state', 'created_at']).execute();
    await db.schema.createIndex('pipeline_runs_pipeline').on('pipeline_runs').columns(['project', 'pipeline', 'created_at']).execute();
    await db.schema
      .createTable('pipeline_steps')
      .addColumn('pipeline_run_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('step', 'varchar(100)', (c) => c.notNull())
      // -1 for a step without `map`; else the item's index in its list.
      .addColumn('item', 'integer', (c) => c.notNull())
      .addColumn('item_value', 'text')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      .addPrimaryKeyConstraint('pipeline_steps_pk', ['pipeline_run_id', 'step', 'item'])
      .execute();
    await db.schema.createIndex('pipeline_steps_run').on('pipeline_steps').columns(['run_id']).execute();
  },
};


function sqlCheck() {
  return sql`state in ('running', 'succeeded', 'failed', 'cancelled', 'skipped')`;
}
