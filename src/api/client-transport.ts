/**
 * The client's wire: one HTTP exchange over a kept-alive connection (node:http: less overhead per call than
 * fetch), the client's two error types, and streaming uploads on a connection of their own.
 */
import * as http from 'node:http';
import * as https from 'node:https';

export async function readBody(res: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of res as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** The server answered with an error: its status, the body's stable code, message and details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The server could not be reached at all. */
export class ConnectionError extends Error {
  constructor(
    readonly url: string,
    cause: unknown,
  ) {
    super(`cannot reach the Kairos server at ${url} (${cause instanceof Error ? ((cause.cause as Error | undefined)?.message ?? cause.message) : String(cause)}); is \`kairos up\` running? (--server / KAIROS_SERVER)`);
    this.name = 'ConnectionError';
  }
}

/** Turns a non-2xx answer into an ApiError (the body's stable code and message when it has them). */
export async function apiError(res: http.IncomingMessage, method: string, path: string): Promise<ApiError> {
  const status = res.statusCode ?? 0;
  let code = 'http_' + status;
  let message = `${method} ${path}: HTTP ${status}`;
  let details: unknown;
  try {
    const b = JSON.parse(await readBody(res)) as { error?: { code?: string; message?: string; details?: unknown } };
    if (b.error?.code) code = b.error.code;
    if (b.error?.message) message = b.error.message;
    details = b.error?.details;
  } catch {
    // not JSON
  }
  return new ApiError(status, code, message, details);
}

export class Transport {
  readonly base: string;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;

  constructor(
    server: string,
    private readonly token: string | null,
    private readonly timeoutMs: number | undefined,
  ) {
    this.base = server.replace(/\/+$/, '');
    this.transport = this.base.startsWith('https:') ? https : http;
    // Idle kept-alive sockets are unref'd by the agent, so they never hold a process open.
    this.agent = new this.transport.Agent({ keepAlive: true, maxSockets: 64 });
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { accept: 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
  }

  /** One exchange; a non-2xx answer is an ApiError, no answer a ConnectionError. */
  async request(method: string, path: string, body?: unknown, signal?: AbortSignal, timeoutMs = this.timeoutMs): Promise<http.IncomingMessage> {
    const url = new URL(this.base + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers = this.headers(payload ? { 'content-type': 'application/json', 'content-length': String(payload.length) } : {});
    let res: http.IncomingMessage;
    try {
      res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = this.transport.request(url, { method, headers, agent: this.agent, signal }, resolve);
        req.on('error', reject);
        if (timeoutMs) req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        req.end(payload);
      });
    } catch (err) {
      if (signal?.aborted) throw err;
      throw new ConnectionError(this.base, err);
    }
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await apiError(res, method, path);
    return res;
  }

  /** The body of an answer as JSON; a connection that breaks while it is read is a ConnectionError. */
  async parse<T>(res: http.IncomingMessage): Promise<T> {
    let text: string;
    try {
      text = await readBody(res);
    } catch (err) {
      throw new ConnectionError(this.base, err);
    }
    return JSON.parse(text) as T;
  }

  /**
   * Streams a request body on a connection of its own (a refused upload leaves its socket unusable). Stops
   * sending as soon as the server answers (a refusal comes early: a bad path, a limit), and reports the
   * server's answer rather than the broken pipe.
   */
  upload<T>(path: string, contentType: string, body: AsyncIterable<Buffer>): Promise<T> {
    const url = new URL(this.base + path);
    return new Promise<T>((resolve, reject) => {
      let answered = false;
      const req = this.transport.request(url, { method: 'POST', headers: this.headers({ 'content-type': contentType }), agent: false }, (res) => {
        answered = true;
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        const done = ok ? readBody(res).then((t) => JSON.parse(t) as T) : apiError(res, 'POST', path).then((e) => Promise.reject(e));
        done.then(resolve, reject).finally(() => req.destroy());
      });
      req.on('error', (err) => {
        if (!answered) reject(new ConnectionError(this.base, err));
      });
      void (async () => {
        try {
          for await (const chunk of body) {
            if (answered || req.destroyed) return;
            if (!req.write(chunk)) {
              await new Promise<void>((r) => {
                const go = () => {
                  req.off('drain', go);
                  req.off('close', go);
                  r();
                };
                req.on('drain', go);
                req.on('close', go);
              });
            }
          }
          if (!answered && !req.destroyed) req.end();
        } catch (err) {
          req.destroy();
          if (!answered) reject(err);
        }
      })();
    });
  }

  /** Closes kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }
}
