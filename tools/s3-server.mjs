#!/usr/bin/env node
/**
 * A real S3-protocol server for tests and benchmarks: s3rver (a devDependency) on loopback, with the given
 * buckets, storing under DIR. It checks request signatures against its one account (access key S3RVER, secret
 * S3RVER), so wrong credentials are refused as AWS refuses them.
 *
 *   node tools/s3-server.mjs --dir DIR [--port N] [--bucket NAME]...
 *
 * Prints one JSON line `{"port": N}` once it listens; stops on SIGTERM/SIGINT or when its stdin closes (so a
 * test that dies does not leave it behind).
 */
import S3rver from 's3rver';

const args = process.argv.slice(2);
let dir;
let port = 0;
const buckets = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--dir') dir = args[++i];
  else if (a === '--port') port = Number(args[++i]);
  else if (a === '--bucket') buckets.push(args[++i]);
  else {
    console.error(`s3-server: unknown argument ${a}`);
    process.exit(2);
  }
}
if (!dir) {
  console.error('s3-server: --dir DIR is required');
  process.exit(2);
}
const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name })) });
const { port: bound } = await server.run();
process.stdout.write(`${JSON.stringify({ port: bound })}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
