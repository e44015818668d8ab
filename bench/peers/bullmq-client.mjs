// BullMQ client: node bullmq-client.mjs MODE N RATE REDIS_PORT
import { Queue } from 'bullmq';
import { args, drive } from './drive.mjs';

const { mode, n, rate, rest } = args();
const queue = new Queue('bench', { connection: { host: '127.0.0.1', port: Number(rest[0]) } });
await queue.waitUntilReady();
await drive({
  mode, n, rate,
  submit: (i) => queue.add('run', { i }),
  pending: async () => {
    const c = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'paused');
    return Object.values(c).reduce((a, b) => a + b, 0);
  },
  close: async () => {
    const c = await queue.getJobCounts('completed', 'failed');
    if (c.failed > 0) throw new Error(`${c.failed} BullMQ jobs failed`);
    await queue.obliterate({ force: true });
    await queue.close();
  },
});
