/** 0005: the alerts outbox, and an index that lets /metrics read recent ticks without scanning the ledger. */
import type { Kysely, Migration } from 'kysely';

export const m0005Alerts: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('alerts')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('project', 'varchar(100)', (c) => c.notNull())
      .addColumn('job', 'varchar(100)', (c) => c.notNull())
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      // Where the rule was written (`jobs.train.notify[0]`): with the run and the kind, the alert's identity.
      .addColumn('rule', 'varchar(300)', (c) => c.notNull())
      .addColumn('kind', 'varchar(20)', (c) => c.notNull())
      .addColumn('payload_json', 'text', (c) => c.notNull())
      .addColumn('format', 'varchar(20)', (c) => c.notNull())
      .addColumn('target', 'text', (c) => c.notNull())
      .addColumn('state', 'varchar(20)', (c) => c.notNull())
      .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
      .addColumn('last_error', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('delivered_at', 'bigint')
      // At most one alert of a kind per run and rule (a late check that runs twice, or on two replicas, adds nothing).
      .addUniqueConstraint('alerts_run_kind_rule', ['run_id', 'kind', 'rule'])
      .execute();
    await db.schema.createIndex('alerts_due').on('alerts').columns(['state', 'next_attempt_at']).execute();
    await db.schema.createIndex('alerts_created').on('alerts').columns(['created_at', 'id']).execute();
    await db.schema.createIndex('ticks_recorded').on('ticks').columns(['recorded_at']).execute();
  },
};
