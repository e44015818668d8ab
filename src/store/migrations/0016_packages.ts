/**
 * 0016 packages: the team's Python package index (src/pypi/). Projects, their files (a filename is never
 * reused: a deleted file keeps its row), which internal versions each attempt used, and tokens that may
 * publish only names with given prefixes. Portable: Kysely's schema builder only.
 */
import type { Kysely, Migration } from 'kysely';

export const m0016Packages: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('pypi_projects')
      // PEP 503 normalized name.
      .addColumn('name', 'varchar(200)', (c) => c.primaryKey())
      .addColumn('display_name', 'varchar(200)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      // Bumped on every change to the project's files: the pages' ETag and cache key.
      .addColumn('serial', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('pypi_files')
      .addColumn('filename', 'varchar(300)', (c) => c.primaryKey())
      .addColumn('project', 'varchar(200)', (c) => c.notNull())
      .addColumn('version', 'varchar(100)', (c) => c.notNull())
      .addColumn('kind', 'varchar(20)', (c) => c.notNull())
      .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
      .addColumn('size', 'bigint', (c) => c.notNull())
      .addColumn('requires_python', 'varchar(200)')
      .addColumn('metadata_sha256', 'varchar(64)')
      .addColumn('yanked', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('yanked_reason', 'text')
      .addColumn('uploaded_at', 'bigint', (c) => c.notNull())
      .addColumn('uploaded_by', 'varchar(100)', (c) => c.notNull())
      .addColumn('deleted_at', 'bigint')
      .execute();
    await db.schema.createIndex('pypi_files_project').on('pypi_files').columns(['project', 'version']).execute();
    await db.schema
      .createTable('pypi_usage')
      .addColumn('run_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('attempt', 'integer', (c) => c.notNull())
      .addColumn('project', 'varchar(200)', (c) => c.notNull())
      .addColumn('version', 'varchar(100)', (c) => c.notNull())
      .addColumn('recorded_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('pypi_usage_pk', ['run_id', 'attempt', 'project'])
      .execute();
    await db.schema.createIndex('pypi_usage_project').on('pypi_usage').columns(['project', 'version']).execute();
    // Comma-separated name prefixes a `publish` token may upload and yank (null: every name).
    await db.schema.alterTable('tokens').addColumn('packages', 'varchar(1000)').execute();
  },
};
