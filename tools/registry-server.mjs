#!/usr/bin/env node
/**
 * A real container registry for tests: Debian's `docker-registry serve CONFIG` (distribution 2.8) on
 * 127.0.0.1, plain HTTP, storing under DIR.
 *
 *   node tools/registry-server.mjs --dir DIR [--port N]
 *
 * Prints one JSON line `{"port": N, "pid": P}` once the registry answers `/v2/`; stops it (by its pid) on
 * SIGTERM/SIGINT or when its own stdin closes, so a test that dies does not leave it behind.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const args = process.argv.slice(2);
let dir = '';
let port = 0;
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--dir') dir = args[++i] ?? '';
  else if (a === '--port') port = Number(args[++i]);
  else {
    process.stderr.write(`registry-server: unknown argument ${a}\n`);
    process.exit(2);
  }
}
if (!dir) {
  process.stderr.write('usage: registry-server.mjs --dir DIR [--port N]\n');
  process.exit(2);
}

/** A free loopback port (the registry cannot be told to pick one). */
function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

if (!port) port = await freePort();
mkdirSync(join(dir, 'data'), { recursive: true });
const config = join(dir, 'config.yml');
writeFileSync(
  config,
  ['version: 0.1', 'log:', '  level: error', 'storage:', '  filesystem:', `    rootdirectory: ${JSON.stringify(join(dir, 'data'))}`, '  delete:', '    enabled: true', 'http:', `  addr: 127.0.0.1:${port}`, ''].join('\n'),
);
// Its log (every 404 of a tag that is not there yet is an "error") goes to a file beside its data.
const logFd = openSync(join(dir, 'registry.log'), 'a');
const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', logFd, logFd] });
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  if (child.exitCode === null && child.pid) process.kill(child.pid, 'SIGTERM');
};
child.once('exit', (code) => {
  if (!stopping) process.stderr.write(`registry-server: docker-registry exited with ${code}\n`);
  process.exit(stopping ? 0 : 1);
});
child.once('error', (err) => {
  process.stderr.write(`registry-server: ${err.message}\n`);
  process.exit(1);
});
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();

for (let i = 0; ; i++) {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/v2/`);
    if (r.ok) break;
  } catch {
    // not yet
  }
  if (i > 600) {
    process.stderr.write('registry-server: no answer from the registry\n');
    stop();
    break;
  }
  await new Promise((r) => setTimeout(r, 50));
}
process.stdout.write(`${JSON.stringify({ port, pid: child.pid })}\n`);
