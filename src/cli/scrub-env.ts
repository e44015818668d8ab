/**
 * Kairos' long-running processes keep their credentials out of what others can read and what they pass on.
 * After `kairos server`, `up` or `worker` has read its token and key, they leave `process.env` (so no child
 * process inherits them) and are overwritten in the process's initial environment block, which is what
 * /proc/<pid>/environ shows to any process of the same user (Linux). Best effort: where /proc/self/mem cannot
 * be written, the variables are still gone from process.env.
 */
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';

export const CREDENTIAL_VARS = ['KAIROS_TOKEN', 'KAIROS_SECRET_KEY', 'KAIROS_SECRET_KEY_PREVIOUS'] as const;

export function scrubCredentials(names: readonly string[] = CREDENTIAL_VARS): void {
  for (const n of names) delete process.env[n];
  if (process.platform !== 'linux') return;
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may hold spaces): env_start and env_end are fields 50 and 51.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = Number(f[47]);
    const end = Number(f[48]);
    if (!(start > 0 && end > start && end - start < 1 << 24)) return;
    const fd = openSync('/proc/self/mem', 'r+');
    try {
      const block = Buffer.alloc(end - start);
      readSync(fd, block, 0, block.length, start);
      let off = 0;
      while (off < block.length) {
        let z = block.indexOf(0, off);
        if (z < 0) z = block.length;
        const eq = block.indexOf(0x3d, off);
        if (eq > off && eq < z && names.includes(block.toString('latin1', off, eq))) {
          const stars = Buffer.alloc(z - eq - 1, 0x2a);
          writeSync(fd, stars, 0, stars.length, start + eq + 1);
        }
        off = z + 1;
      }
    } finally {
      closeSync(fd);
    }
  } catch {
    // not writable here: process.env is clean all the same
  }
}
