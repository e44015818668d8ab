/** Starts tools/s3-server.mjs (s3rver on loopback) for a test; `stop()` ends it and removes its files. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ROOT, tempDir } from '../helpers.js';

export interface S3Server {
  endpoint: string;
  port: number;
  accessKeyId: string;
  secretAccessKey: string;
  stop(): Promise<void>;
}

export async function startS3Server(buckets: readonly string[]): Promise<S3Server> {
  const dir = tempDir('kairos-s3-');
  const child = spawn(process.execPath, [join(ROOT, 'tools', 's3-server.mjs'), '--dir', dir.path, ...buckets.flatMap((b) => ['--bucket', b])], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise<number>((resolve, reject) => {
    lines.once('line', (l) => resolve((JSON.parse(l) as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`s3-server exited with ${code} before it listened`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    async stop() {
      child.kill('SIGTERM');
      await exited;
      dir.cleanup();
    },
  };
}
