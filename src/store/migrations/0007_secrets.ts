/** 0007: secrets, encrypted at rest (AES-256-GCM; see src/control/secrets.ts and docs/secrets.md). */
import type { Kysely, Migration } from 'kysely';

export const m0007Secrets: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('secrets')
      .addColumn('project', 'varchar(100)', (c) => c.notNull())
      .addColumn('name', 'varchar(128)', (c) => c.notNull())
      // "v1:" + base64(nonce ‖ ciphertext ‖ tag); the plaintext never reaches the database.
      .addColumn('sealed', 'text', (c) => c.notNull())
      // Fingerprint of the key that sealed it, so a changed key is reported as such, not as corruption.
      .addColumn('key_id', 'varchar(40)', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('secrets_pk', ['project', 'name'])
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('secrets').execute();
  },
};
