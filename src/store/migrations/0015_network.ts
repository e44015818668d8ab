/**
 * 0015: the network preflight (docs/network.md). Each attempt keeps its checks of the job's `network.needs`
 * (`network_json`, a JSON list of EndpointCheck) and, while its worker waits for them (`on_failure: wait`),
 * what it waits for (`network_waiting`). Each worker's latest check of each endpoint (`worker_endpoints`)
 * is what placement prefers workers by, and what `kairos doctor` shows when a worker does not answer live.
 */
import type { Kysely, Migration } from 'kysely';

export const m0015: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('attempts').addColumn('network_json', 'text').execute();
    await db.schema.alterTable('attempts').addColumn('network_waiting', 'text').execute();
    await db.schema
      .createTable('worker_endpoints')
      .addColumn('worker_id', 'varchar(100)', (c) => c.notNull())
      .addColumn('endpoint', 'varchar(4096)', (c) => c.notNull())
      .addColumn('result', 'varchar(20)', (c) => c.notNull())
      .addColumn('latency_ms', 'double precision', (c) => c.notNull())
      .addColumn('detail', 'text')
      .addColumn('checked_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('worker_endpoints_pk', ['worker_id', 'endpoint'])
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('worker_endpoints').execute();
    await db.schema.alterTable('attempts').dropColumn('network_waiting').execute();
    await db.schema.alterTable('attempts').dropColumn('network_json').execute();
  },
};
