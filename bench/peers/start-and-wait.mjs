// Runs /bin/true (argv, no shell), notes when the process started (epoch ms, one line per run in STARTS),
// and resolves when it ended: the task body of every Node.js peer, the same for all.
import { spawn } from 'node:child_process';
import { openSync, writeSync } from 'node:fs';

export function starter(startsFile) {
  const fd = openSync(startsFile, 'a');
  return (i) => new Promise((resolve, reject) => {
    const c = spawn('/bin/true', [], { stdio: 'ignore' });
    c.once('spawn', () => writeSync(fd, `${i} ${Date.now()}\n`));
    c.once('error', reject);
    c.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`exit ${code}`))));
  });
}
