// graphile-worker client: node graphile-client.mjs MODE N RATE PG_URL
import { makeWorkerUtils } from 'graphile-worker';
import { args, drive } from './drive.mjs';

const { mode, n, rate, rest } = args();
const utils = await makeWorkerUtils({ connectionString: rest[0] });
await utils.migrate();
await drive({
  mode, n, rate,
  submit: (i) => utils.addJob('bench', { i }, { maxAttempts: 1 }),
  pending: async () => {
    const r = await utils.withPgClient((c) => c.query('select count(*)::int as n from graphile_worker.jobs where last_error is null'));
    return r.rows[0].n;
  },
  close: async () => {
    const r = await utils.withPgClient((c) => c.query('select count(*)::int as n from graphile_worker.jobs'));
    if (r.rows[0].n > 0) throw new Error(`${r.rows[0].n} graphile-worker jobs failed`);
    await utils.release();
  },
});
