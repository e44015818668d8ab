#!/usr/bin/env node
/**
 * Runs a command while busy loops burn CPU, to prove the tests hold on a busy machine:
 *
 *   node tools/cpu-hog.mjs [--loops N] -- COMMAND [ARGS...]
 *
 * N busy loops (default: one per core) run in child processes beside the command; they stop when the command
 * ends, whatever happens (it exits, is killed, or this script is interrupted or killed: each loop also
 * watches this script's pid and stops when it is gone). Exits with the command's status (128+n for a signal).
 */
import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';

const argv = process.argv.slice(2);
const sep = argv.indexOf('--');
const own = sep >= 0 ? argv.slice(0, sep) : [];
const command = sep >= 0 ? argv.slice(sep + 1) : argv;
let loops = availableParallelism();
for (let i = 0; i < own.length; i++) {
  if (own[i] === '--loops' && own[i + 1] !== undefined && /^\d+$/.test(own[i + 1])) loops = Number(own[++i]);
  else {
    console.error(`cpu-hog: unknown option ${own[i]}\nusage: node tools/cpu-hog.mjs [--loops N] -- COMMAND [ARGS...]`);
    process.exit(2);
  }
}
if (command.length === 0) {
  console.error('usage: node tools/cpu-hog.mjs [--loops N] -- COMMAND [ARGS...]');
  process.exit(2);
}

// A busy loop that checks every ~100 ms that its parent is still this script, and stops otherwise.
const LOOP = `const parent = ${process.pid};
for (;;) {
  const until = Date.now() + 100;
  while (Date.now() < until);
  try { process.kill(parent, 0); } catch { process.exit(0); }
  if (process.ppid !== parent) process.exit(0);
}`;
const hogs = [];
for (let i = 0; i < loops; i++) hogs.push(spawn(process.execPath, ['-e', LOOP], { stdio: 'ignore' }));
const stopHogs = () => {
  for (const h of hogs) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
};
process.on('exit', stopHogs);
console.error(`cpu-hog: ${loops} busy loop${loops === 1 ? '' : 's'} while running: ${command.join(' ')}`);
const started = Date.now();
const child = spawn(command[0], command.slice(1), { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('error', (err) => {
  console.error(`cpu-hog: cannot run ${command[0]}: ${err.message}`);
  stopHogs();
  process.exit(127);
});
child.on('exit', (code, signal) => {
  stopHogs();
  console.error(`cpu-hog: the command ended after ${Math.round((Date.now() - started) / 1000)} s (${signal ?? `exit ${code}`})`);
  process.exit(code ?? 128 + (signal ? ({ SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 0) : 0));
});
