/**
 * 0012: placement. A worker records where it runs attempts (`place`) and what one attempt can get there
 * (`offer_json`, src/protocol/worker.ts placeOfferSchema); a run records the resources given for it alone
 * (`kairos run --cpu/--memory/--gpu`, `resources_json`), which a rerun repeats.
 */
import { type Kysely, type Migration } from 'kysely';

export const m0012: Migration = {
  async up(db: Kysely<any>) {
    await db.schema.alterTable('workers').addColumn('place', 'varchar(40)').execute();
    await db.schema.alterTable('workers').addColumn('offer_json', 'text').execute();
    await db.schema.alterTable('runs').addColumn('resources_json', 'text').execute();
  },
};
