/**
 * 0014: data snapshots and run inputs (docs/snapshots.md).
 *
 * - `snapshot_versions` / `snapshot_files`: immutable, content-addressed versions of a project's named
 *   datasets; a version's id is the SHA-256 of its file list, so the same content is the same version.
 * - `run_inputs`: what each attempt read (attempt 0: the run's pin, resolved once and reused by its retries
 *   and copied by a rerun); `run_input_files`: the pin's files, so the collector knows which blobs a run uses.
 * - `blob_candidates`: blobs the collector saw unreferenced, deleted once still unreferenced after a grace time.
 * - `collected_runs`: runs whose artifact records retention removed.
 */
import type { Kysely, Migration } from 'kysely';

export const m0014: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('snapshot_versions')
      .addColumn('project', 'varchar(100)', (c) => c.notNull())
      .addColumn('name', 'varchar(100)', (c) => c.notNull())
      .addColumn('version', 'varchar(64)', (c) => c.notNull())
      .addColumn('kind', 'varchar(10)', (c) => c.notNull())
      .addColumn('files', 'integer', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'varchar(200)', (c) => c.notNull())
      .addPrimaryKeyConstraint('snapshot_versions_pk', ['project', 'name', 'version'])
      .execute();
    await db.schema.createIndex('snapshot_versions_latest').on('snapshot_versions').columns(['project', 'name', 'created_at']).execute();
    await db.schema
      .createTable('snapshot_files')
      .addColumn('project', 'varchar(100)', (c) => c.notNull())
      .addColumn('name', 'varchar(100)', (c) => c.notNull())
      .addColumn('version', 'varchar(64)', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('snapshot_files_pk', ['project', 'name', 'version', 'path'])
      .execute();
    await db.schema.createIndex('snapshot_files_sha').on('snapshot_files').columns(['sha256']).execute();

    await db.schema
      .createTable('run_inputs')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('name', 'varchar(100)', (c) => c.notNull())
      .addColumn('source', 'varchar(10)', (c) => c.notNull())
      .addColumn('ref', 'text', (c) => c.notNull())
      .addColumn('resolved', 'varchar(100)', (c) => c.notNull())
      .addColumn('kind', 'varchar(10)', (c) => c.notNull())
      .addColumn('digest', 'varchar(64)', (c) => c.notNull())
      .addColumn('files', 'integer', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_inputs_pk', ['run_id', 'attempt', 'name'])
      .execute();
    await db.schema
      .createTable('run_input_files')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('name', 'varchar(100)', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('run_input_files_pk', ['run_id', 'name', 'path'])
      .execute();
    await db.schema.createIndex('run_input_files_sha').on('run_input_files').columns(['sha256']).execute();

    await db.schema
      .createTable('blob_candidates')
      .addColumn('sha256', 'varchar(64)', (c) => c.primaryKey())
      .addColumn('since', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('collected_runs')
      .addColumn('run_id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('collected_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('artifacts_sha').on('artifacts').columns(['sha256']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('artifacts_sha').execute();
    for (const t of ['collected_runs', 'blob_candidates', 'run_input_files', 'run_inputs', 'snapshot_files', 'snapshot_versions']) await db.schema.dropTable(t).execute();
  },
};
