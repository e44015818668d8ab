// BullMQ worker: concurrency 4, each job runs /bin/true.   node bullmq-worker.mjs REDIS_PORT STARTS_FILE
import { Worker } from 'bullmq';
import { starter } from './start-and-wait.mjs';

const [port, starts] = process.argv.slice(2);
const run = starter(starts);
const worker = new Worker('bench', async (job) => run(job.data.i), { connection: { host: '127.0.0.1', port: Number(port) }, concurrency: 4 });
worker.on('ready', () => process.stdout.write('ready\n'));
process.on('SIGTERM', () => void worker.close().then(() => process.exit(0)));
