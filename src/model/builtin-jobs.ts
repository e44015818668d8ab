/**
 * Jobs every project has without writing them: `jupyter` (a Jupyter server as a service, `kairos jupyter`)
 * and `jupyter-<env>` for each of the project's environments (the same, inside that environment). A job of
 * the same name in kairos.yaml wins. They are added to a compiled manifest when it is read back
 * (src/control/context.ts), so runs of them are ordinary runs: queued, placed by their resources, leased,
 * logged, cancelled. Listings of the project's jobs leave them out (`builtin`).
 */
import type { CompiledJob, CompiledManifest } from './job.js';
import { NO_NETWORK } from './network.js';
import { serviceBasePath } from './service.js';

export const JUPYTER_JOB = 'jupyter';

/** The built-in Jupyter job for an environment (null: the worker's own `jupyter`). */
export function jupyterJobName(environment: string | null): string {
  return environment === null ? JUPYTER_JOB : `${JUPYTER_JOB}-${environment}`;
}

/**
 * Debian's classic Notebook server (`notebook` 6, which also serves Jupyter's REST and kernel WebSocket API),
 * on 127.0.0.1 at the port the worker chose, under the service's base URL. Its token is the attempt's
 * KAIROS_SERVICE_TOKEN, handed over in the environment (JUPYTER_TOKEN), never on the command line; the
 * worker sends it with every relayed request, and no browser ever sees it. `--allow-root`: workers often
 * run as root in containers, and Jupyter refuses root otherwise.
 */
function jupyterScript(inEnvironment: boolean): string {
  const server = inEnvironment ? 'python3 -m notebook' : 'jupyter notebook';
  return [
    'export JUPYTER_TOKEN="$KAIROS_SERVICE_TOKEN"',
    'export JUPYTER_RUNTIME_DIR="$KAIROS_ARTIFACTS.jupyter-runtime"',
    `exec ${server} --no-browser --allow-root --ip=127.0.0.1 --port="$KAIROS_SERVICE_PORT" --port-retries=0 --NotebookApp.base_url="$KAIROS_SERVICE_BASE_URL" --notebook-dir=.`,
  ].join('\n');
}

function jupyterJob(m: CompiledManifest, environment: string | null): CompiledJob {
  const name = jupyterJobName(environment);
  return {
    name,
    description: `Jupyter server${environment === null ? '' : ` in environment ${environment}`} (built in: kairos jupyter)`,
    run: { kind: 'shell', script: jupyterScript(environment !== null) },
    schedule: null,
    params: {},
    env: {},
    timeoutMs: null,
    graceMs: m.defaults.graceMs,
    startTimeoutMs: null,
    retries: { ...m.defaults.retries, max: 0 },
    pool: m.defaults.pool,
    resources: { cpu: null, memoryBytes: null, gpu: null },
    secrets: [],
    workdir: null,
    environment,
    notify: [],
    check: null,
    network: NO_NETWORK,
    inputs: [],
    retention: { runs: null, days: null },
    // Port 0: the worker picks a free port on its machine (KAIROS_SERVICE_PORT), so several can run side by side.
    service: { port: 0, health: `${serviceBasePath(m.project, name)}api`, idleStopMs: null, dropCookies: ['username-'] },
    builtin: true,
  };
}

/** The manifest with its built-in jobs added (those a job of kairos.yaml does not already name). */
export function withBuiltinJobs(m: CompiledManifest): CompiledManifest {
  const jobs: Record<string, CompiledJob> = { ...m.jobs };
  for (const env of [null, ...Object.keys(m.environments)]) {
    const name = jupyterJobName(env);
    if (!(name in jobs)) jobs[name] = jupyterJob(m, env);
  }
  return { ...m, jobs };
}

export function isBuiltin(job: CompiledJob): boolean {
  return job.builtin === true;
}
