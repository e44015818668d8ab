/**
 * 0017: an attempt whose environment is a container image records the image it ran: a reference any machine
 * can pull (`repo@sha256:…`) and its digest, as JSON `{ref, digest}`, so a retry or a rerun runs the same bytes.
 */
import type { Kysely, Migration } from 'kysely';

export const m0017ContainerImages: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('attempts').addColumn('env_image_json', 'text').execute();
  },
};
