/** 0004: each attempt records the environment it ran in: its content hash and its fully resolved package list. */
import type { Kysely, Migration } from 'kysely';

export const m0004: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('attempts').addColumn('env_hash', 'varchar(80)').execute();
    await db.schema.alterTable('attempts').addColumn('env_packages_json', 'text').execute();
  },
};
