/**
 * 0003 auth: stored API tokens (only a hash of each) and who deployed each version, from which commit.
 * Portable: Kysely's schema builder only.
 */
import type { Kysely, Migration } from 'kysely';

export const m0003: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('tokens')
      .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
      .addColumn('name', 'varchar(100)', (c) => c.notNull())
      // sha256 of the token, hex: the token itself is shown once and never stored.
      .addColumn('hash', 'varchar(64)', (c) => c.notNull().unique())
      .addColumn('scope', 'varchar(20)', (c) => c.notNull())
      .addColumn('project', 'varchar(100)')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'varchar(100)', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute();
    await db.schema.createIndex('tokens_name').on('tokens').columns(['name', 'revoked_at']).execute();

    await db.schema.alterTable('deployments').addColumn('deployed_by', 'varchar(100)').execute();
    await db.schema.alterTable('deployments').addColumn('git_commit', 'varchar(64)').execute();
    await db.schema.alterTable('deployments').addColumn('git_dirty', 'integer').execute();
  },
};
