/**
 * 0021 services: when an attempt of a service job first answered its health check (docs/services.md), so a
 * run shows when its service was up, and its history keeps it. Portable: Kysely's schema builder only.
 */
import type { Kysely, Migration } from 'kysely';

export const m0021Services: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('attempts').addColumn('service_up_at', 'bigint').execute();
  },
};
