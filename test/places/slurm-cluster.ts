/**
 * The real Slurm cluster of tools/slurm-cluster.mjs, for tests: started per test file (about 2 s, 15 s with
 * accounting), stopped by the file's `after`. Without Slurm installed (or not root) the tests are skipped with
 * the reason, and under CI=true they fail (.ci/run installs slurm-wlm, munge, slurmdbd and mariadb-server).
 */
import { fileURLToPath } from 'node:url';

export interface SlurmCluster {
  readonly dir: string;
  /** SLURM_CONF: the environment the Slurm commands need. */
  readonly env: Record<string, string>;
  readonly partition: string;
  readonly nodes: string[];
  readonly sharedDir: string;
  readonly accounting: boolean;
  logs(): string;
  /** SIGKILL to a node's slurmd (it stops answering; its jobs' processes go on until restartSlurmd). */
  killSlurmd(node: string): Promise<void>;
  restartSlurmd(node: string): void;
  stop(): Promise<void>;
  killNow(): void;
}

interface Tool {
  startSlurmCluster(o: { accounting?: boolean; gpus?: number; log?: (m: string) => void }): Promise<SlurmCluster>;
  missingSlurm(o: { accounting?: boolean }): string[];
}

const TOOL = fileURLToPath(new URL('../../../tools/slurm-cluster.mjs', import.meta.url));

async function tool(): Promise<Tool> {
  return (await import(TOOL)) as Tool;
}

/** Why Slurm tests cannot run here (null: they can). Throws under CI=true: a missing Slurm fails, never skips. */
export async function slurmMissing(accounting = false): Promise<string | null> {
  const missing = (await tool()).missingSlurm({ accounting });
  if (missing.length === 0) return null;
  const why = `Slurm tests need ${missing.join(', ')} (apt-get install slurm-wlm munge slurmdbd mariadb-server; see .ci/run)`;
  if (process.env.CI === 'true') throw new Error(`CI=true: ${why}`);
  return why;
}

export async function startSlurmCluster(o: { accounting?: boolean; gpus?: number } = {}): Promise<SlurmCluster> {
  const c = await (await tool()).startSlurmCluster(o);
  process.once('exit', () => c.killNow());
  return c;
}
