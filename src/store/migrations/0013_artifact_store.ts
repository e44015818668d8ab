/**
 * 0013: artifacts kept in the artifact store (src/artifacts/). Each row gains its content type (from the
 * file's name, what downloads are served as) and `stored` (1 once its bytes are in the store; rows written
 * before this, whose bytes stayed on the worker, are 0 and are listed but cannot be downloaded).
 */
import type { Kysely, Migration } from 'kysely';

export const m0013: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('artifacts').addColumn('content_type', 'varchar(200)').execute();
    await db.schema.alterTable('artifacts').addColumn('stored', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    await db.schema.createIndex('artifacts_sha256').on('artifacts').column('sha256').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('artifacts_sha256').execute();
    await db.schema.alterTable('artifacts').dropColumn('stored').execute();
    await db.schema.alterTable('artifacts').dropColumn('content_type').execute();
  },
};
