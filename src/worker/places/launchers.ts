/** Choosing how this machine starts jobs: the native launcher when it was built, else the Node.js one. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NodeLauncher, type Launcher } from './local.js';
import { NativeLauncher } from './native-launcher.js';

/** The native launcher, compiled from ./launcher.c at install time (tools/build-launcher.mjs). */
export const NATIVE_LAUNCHER = fileURLToPath(new URL('../../../kairos-launcher', import.meta.url));

/** `KAIROS_LAUNCHER=node` forces the Node.js launcher (for machines without a C compiler, and for tests). */
export function createLauncher(baseEnv: Readonly<Record<string, string>>, choice = process.env.KAIROS_LAUNCHER): Launcher {
  if (choice !== 'node' && existsSync(NATIVE_LAUNCHER)) return new NativeLauncher(NATIVE_LAUNCHER, baseEnv);
  return new NodeLauncher(baseEnv);
}
