/** Runs an installer (python, pip, npm) with an argv array, never a shell, and keeps its output for errors. */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';

export interface ExecResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut?: boolean;
}

export interface ExecOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  readonly timeoutMs?: number;
  /** Each line of output as it comes (progress). */
  readonly onLine?: (line: string) => void;
  readonly input?: string;
}

/** Output beyond this is dropped from the middle: an installer's error is at its end. */
const MAX_KEPT = 1024 * 1024;

export function execFile(argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [cmd, ...args] = argv;
  if (!cmd) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    // Its own process group, so a timeout ends whatever it started too.
    // Without input its stdin is /dev/null: nothing to write, so nothing to break.
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
    let stdout = '';
    let stderr = '';
    let partial = '';
    const keep = (acc: string, chunk: string) => (acc.length + chunk.length > MAX_KEPT ? (acc + chunk).slice(-MAX_KEPT) : acc + chunk);
    const lines = (chunk: string) => {
      if (!opts.onLine) return;
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf('\n')) >= 0) {
        opts.onLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    };
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      stdout = keep(stdout, c);
      lines(c);
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr = keep(stderr, c);
      lines(c);
    });
    let timedOut = false;
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL');
          } catch {
            child.kill('SIGKILL');
          }
        }, opts.timeoutMs)
      : null;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (partial && opts.onLine) opts.onLine(partial);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    // A child may exit without reading its input: the write then fails with EPIPE, which is the child's
    // business (its exit status says what happened), not an error that may end the worker.
    child.stdin?.on('error', () => {});
    child.stdout.on('error', () => {});
    child.stderr.on('error', () => {});
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** The last `n` non-empty lines of an installer's output: where its error is. */
export function tail(text: string, n = 30): string[] {
  return text.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '').slice(-n);
}
