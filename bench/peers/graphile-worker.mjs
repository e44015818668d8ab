// graphile-worker: concurrency 4, each job runs /bin/true.   node graphile-worker.mjs PG_URL STARTS_FILE
import { run } from 'graphile-worker';
import { starter } from './start-and-wait.mjs';

const [connectionString, starts] = process.argv.slice(2);
const start = starter(starts);
const runner = await run({ connectionString, concurrency: 4, noHandleSignals: true, pollInterval: 2000, taskList: { bench: async (payload) => start(payload.i) } });
process.stdout.write('ready\n');
process.on('SIGTERM', () => void runner.stop().then(() => process.exit(0)));
