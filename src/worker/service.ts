/**
 * The worker's end of the service relay (docs/services.md). While an attempt of a service job runs, the
 * worker keeps one WebSocket open to the server (its own outbound connection, reopened if it drops) and
 * answers each stream the server sends over it by connecting to the service on 127.0.0.1:<port>. It checks
 * the service's health path until it answers (then the run is `up`), adds the service's own secret to every
 * request (`Authorization: token …`), drops it from every answer, and stops the service when nobody used it
 * for `idle_stop`.
 */
import { request as httpRequest, Agent, type IncomingMessage } from 'node:http';
import { createServer } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import type { LeaseRef } from '../protocol/worker.js';
import {
  FRAME,
  HOP_BY_HOP,
  LEASE_HEADER,
  MAX_FRAME_BYTES,
  MAX_TUNNEL_MESSAGE,
  RELAY_PATH,
  decodeClose,
  decodeFrame,
  decodeMessage,
  encodeClose,
  encodeFrame,
  encodeJson,
  encodeMessage,
  isOpenFrame,
  parseJson,
  type HeaderPairs,
  type OpenFrame,
} from '../protocol/relay.js';

/** Where the worker's tunnels go: the server's URL and a token of scope `worker`. */
export interface RelayEndpoint {
  readonly url: string;
  readonly token: string | null;
}

export interface ServiceOptions {
  readonly endpoint: RelayEndpoint;
  readonly lease: LeaseRef;
  readonly port: number;
  readonly health: string;
  /** The service's own secret (KAIROS_SERVICE_TOKEN), sent upstream and never back. */
  readonly secret: string;
  readonly idleStopMs: number | null;
  readonly log: (line: string) => void;
  /** Nobody used the service for `idleStopMs`. */
  readonly onIdle: () => void;
  /** Base path shown in the log (`/services/<project>/<job>/`). */
  readonly basePath: string;
  /** Prefixes of cookie names the service sets that never reach the browser. */
  readonly dropCookies?: readonly string[];
}

/**
 * Takes every occurrence of the secret out of a byte stream cut into chunks anywhere: the last bytes that
 * could begin an occurrence are held back until the next chunk (or the end).
 */
export class SecretScrubber {
  private carry: Buffer = Buffer.alloc(0);
  private readonly needle: Buffer;
  constructor(secret: string) {
    this.needle = Buffer.from(secret);
  }
  push(chunk: Buffer): Buffer {
    let buf: Buffer = Buffer.concat([this.carry, chunk]);
    buf = this.cut(buf);
    const keep = Math.min(buf.length, this.needle.length - 1);
    this.carry = Buffer.from(buf.subarray(buf.length - keep));
    return buf.subarray(0, buf.length - keep);
  }
  end(): Buffer {
    const rest = this.cut(this.carry);
    this.carry = Buffer.alloc(0);
    return rest;
  }
  private cut(buf: Buffer): Buffer {
    if (this.needle.length === 0) return buf;
    const parts: Buffer[] = [];
    let from = 0;
    for (let i = buf.indexOf(this.needle); i !== -1; i = buf.indexOf(this.needle, from)) {
      parts.push(buf.subarray(from, i));
      from = i + this.needle.length;
    }
    if (from === 0) return buf;
    parts.push(buf.subarray(from));
    return Buffer.concat(parts);
  }
}

/** A free TCP port on 127.0.0.1 for a service whose job lets the worker choose (port 0). */
export function freeLocalPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Above this much unsent data on the tunnel, reading from the service pauses. */
const HIGH_WATER = 8 * 1024 * 1024;

export class ServiceRelayClient {
  private ws: WebSocket | null = null;
  private closed = false;
  private up = false;
  private lastUsed = Date.now();
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly streams = new Map<number, { data(b: Buffer): void; end(): void; reset(): void; message?(b: Buffer, binary: boolean): void; close?(code: number, reason: string): void }>();
  private failures = 0;
  private saidDown = false;

  constructor(private readonly o: ServiceOptions) {}

  start(): void {
    this.connect();
    void this.healthLoop();
    if (this.o.idleStopMs !== null) {
      const every = Math.max(250, Math.min(this.o.idleStopMs / 4, 30_000));
      const t = setInterval(() => {
        if (this.up && Date.now() - this.lastUsed >= (this.o.idleStopMs ?? Infinity)) {
          clearInterval(t);
          this.o.onIdle();
        }
      }, every);
      this.timers.add(t);
    }
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.streams.values()) s.reset();
    this.streams.clear();
    this.ws?.close(1000, 'the attempt ended');
    this.agent.destroy();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private connect(): void {
    if (this.closed) return;
    const url = this.o.endpoint.url.replace(/\/+$/, '').replace(/^http/, 'ws') + RELAY_PATH;
    const l = this.o.lease;
    const ws = new WebSocket(url, {
      headers: { ...(this.o.endpoint.token ? { authorization: `Bearer ${this.o.endpoint.token}` } : {}), [LEASE_HEADER]: `${l.runId} ${l.attempt} ${l.token}` },
      maxPayload: MAX_TUNNEL_MESSAGE,
      perMessageDeflate: false,
      handshakeTimeout: 10_000,
    });
    this.ws = ws;
    ws.on('open', () => {
      this.failures = 0;
      if (this.up) this.sendState('up');
    });
    ws.on('message', (data: RawData) => this.onFrame(Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer)));
    ws.on('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => {
        if (!this.saidDown) this.o.log(`[kairos] service relay: the server refused the tunnel (${res.statusCode ?? '?'}): ${body.slice(0, 300)}`);
        this.saidDown = true;
      });
      ws.terminate();
    });
    ws.on('error', () => undefined);
    ws.on('close', () => {
      if (this.ws === ws) this.ws = null;
      for (const s of this.streams.values()) s.reset();
      this.streams.clear();
      if (this.closed) return;
      // The server restarted, or the network dropped: connect again, more slowly each time (at most 10 s).
      this.failures++;
      this.later(Math.min(10_000, 250 * 2 ** Math.min(this.failures, 6)), () => this.connect());
    });
  }

  private send(buf: Buffer): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(buf);
  }

  private sendState(state: 'up' | 'down', detail: string | null = null): void {
    this.send(encodeJson(FRAME.state, 0, { state, detail }));
  }

  /** Asks the health path until it answers 2xx/3xx, then every 10 s; says `up` and `down` as it changes. */
  private async healthLoop(): Promise<void> {
    let misses = 0;
    while (!this.closed) {
      const status = await this.probe();
      const ok = status !== null && status < 400;
      if (ok) {
        misses = 0;
        if (!this.up) {
          this.up = true;
          this.lastUsed = Date.now();
          this.o.log(`[kairos] service up: ${this.o.basePath} (GET ${this.o.health} answered ${status})`);
          this.sendState('up');
        }
      } else if (this.up && ++misses >= 3) {
        this.up = false;
        this.o.log(`[kairos] service down: GET ${this.o.health} ${status === null ? 'did not answer' : `answered ${status}`} three times in a row`);
        this.sendState('down', `health check: ${status ?? 'no answer'}`);
      }
      await new Promise<void>((r) => this.later(this.up ? 10_000 : 250, r));
    }
  }

  private probe(): Promise<number | null> {
    return new Promise((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port: this.o.port, path: this.o.health, method: 'GET', headers: { authorization: `token ${this.o.secret}` }, agent: this.agent, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? null));
        res.on('error', () => resolve(null));
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(null));
      req.end();
    });
  }

  private onFrame(buf: Buffer): void {
    const f = decodeFrame(buf);
    if (!f) return;
    if (f.type === FRAME.open) {
      const open = parseJson(f.payload, isOpenFrame);
      if (!open) {
        this.send(encodeFrame(FRAME.reset, f.stream, 'malformed request'));
        return;
      }
      this.lastUsed = Date.now();
      if (open.ws) this.openWebSocket(f.stream, open);
      else this.openHttp(f.stream, open);
      return;
    }
    const s = this.streams.get(f.stream);
    if (!s) return;
    switch (f.type) {
      case FRAME.data:
        s.data(f.payload);
        return;
      case FRAME.end:
        s.end();
        return;
      case FRAME.reset:
        this.streams.delete(f.stream);
        s.reset();
        return;
      case FRAME.message: {
        this.lastUsed = Date.now();
        const m = decodeMessage(f.payload);
        s.message?.(m.data, m.binary);
        return;
      }
      case FRAME.close: {
        const c = decodeClose(f.payload);
        this.streams.delete(f.stream);
        s.close?.(c.code, c.reason);
        return;
      }
      default:
        return;
    }
  }

  /** The request's headers for the service: the relayed ones, its own Host and its secret. */
  private upstreamHeaders(pairs: HeaderPairs, drop: readonly string[] = []): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const [n, v] of pairs) {
      const name = n.toLowerCase();
      // No accept-encoding: answers come uncompressed, so the worker can take the service's secret out of them.
      if (HOP_BY_HOP.has(name) || name === 'authorization' || name === 'accept-encoding' || drop.includes(name)) continue;
      const had = out[name];
      if (had === undefined) out[name] = v;
      else if (name === 'cookie') out[name] = `${String(had)}; ${v}`;
      else out[name] = Array.isArray(had) ? [...had, v] : [had, v];
    }
    out.host = `127.0.0.1:${this.o.port}`;
    out.authorization = `token ${this.o.secret}`;
    return out;
  }

  /** The service's answer headers, without any that would carry its secret back. */
  private answerHeaders(raw: readonly string[]): [string, string][] {
    const out: [string, string][] = [];
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = (raw[i] ?? '').toLowerCase();
      const value = raw[i + 1] ?? '';
      if (HOP_BY_HOP.has(name) || name === 'content-length' || value.includes(this.o.secret)) continue;
      // The service's own login cookie (Jupyter's `username-…`) is its credential, not the browser's.
      if (name === 'set-cookie' && (this.o.dropCookies ?? []).some((p) => value.startsWith(p))) continue;
      out.push([name, value]);
    }
    return out;
  }

  private openHttp(id: number, open: OpenFrame): void {
    let ended = false;
    const req = httpRequest({ host: '127.0.0.1', port: this.o.port, method: open.method, path: open.path, headers: this.upstreamHeaders(open.headers), agent: this.agent }, (res) => {
      this.send(encodeJson(FRAME.head, id, { status: res.statusCode ?? 502, headers: this.answerHeaders(res.rawHeaders) }));
      const scrub = new SecretScrubber(this.o.secret);
      const sendChunk = (chunk: Buffer) => {
        for (let i = 0; i < chunk.length; i += MAX_FRAME_BYTES) this.send(encodeFrame(FRAME.data, id, chunk.subarray(i, i + MAX_FRAME_BYTES)));
      };
      res.on('data', (raw: Buffer) => {
        this.lastUsed = Date.now();
        const chunk = scrub.push(raw);
        for (let i = 0; i < chunk.length; i += MAX_FRAME_BYTES) this.send(encodeFrame(FRAME.data, id, chunk.subarray(i, i + MAX_FRAME_BYTES)));
        // Backpressure: a slow client (or network) must not make the worker buffer a whole download.
        if ((this.ws?.bufferedAmount ?? 0) > HIGH_WATER) {
          res.pause();
          const wait = setInterval(() => {
            if ((this.ws?.bufferedAmount ?? 0) <= HIGH_WATER / 2 || this.ws === null) {
              clearInterval(wait);
              res.resume();
            }
          }, 5);
        }
      });
      res.on('end', () => {
        ended = true;
        this.streams.delete(id);
        sendChunk(scrub.end());
        this.send(encodeFrame(FRAME.end, id));
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err) => {
      if (ended) return;
      ended = true;
      this.streams.delete(id);
      this.send(encodeFrame(FRAME.reset, id, err.message));
    });
    this.streams.set(id, {
      data: (b) => req.write(b),
      end: () => req.end(),
      reset: () => {
        ended = true;
        req.destroy();
      },
    });
  }

  private openWebSocket(id: number, open: OpenFrame): void {
    const protocols = (open.headers.find(([n]) => n === 'sec-websocket-protocol')?.[1] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    const up = new WebSocket(`ws://127.0.0.1:${this.o.port}${open.path}`, protocols, {
      headers: this.upstreamHeaders(open.headers, ['sec-websocket-protocol']) as Record<string, string>,
      maxPayload: MAX_TUNNEL_MESSAGE - 16,
      perMessageDeflate: false,
    });
    let accepted = false;
    const done = () => this.streams.delete(id);
    up.on('open', () => {
      accepted = true;
      this.send(encodeJson(FRAME.accept, id, { protocol: up.protocol || null }));
    });
    up.on('unexpected-response', (_req, res: IncomingMessage) => {
      done();
      res.resume();
      this.send(encodeJson(FRAME.head, id, { status: res.statusCode ?? 502, headers: [] }));
      up.terminate();
    });
    up.on('message', (data: RawData, binary: boolean) => {
      this.lastUsed = Date.now();
      const raw = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      const scrub = new SecretScrubber(this.o.secret);
      this.send(encodeMessage(id, Buffer.concat([scrub.push(raw), scrub.end()]), binary));
    });
    up.on('close', (code, reason) => {
      if (!this.streams.has(id)) return;
      done();
      this.send(accepted ? encodeClose(id, code, reason.toString()) : encodeFrame(FRAME.reset, id, 'the service closed the WebSocket'));
    });
    up.on('error', (err) => {
      if (!this.streams.has(id)) return;
      done();
      this.send(encodeFrame(FRAME.reset, id, err.message));
    });
    this.streams.set(id, {
      data: () => undefined,
      end: () => undefined,
      reset: () => up.terminate(),
      message: (b, binary) => {
        if (up.readyState === WebSocket.OPEN) up.send(b, { binary });
      },
      close: (code, reason) => {
        if (up.readyState === WebSocket.OPEN || up.readyState === WebSocket.CONNECTING) up.close(code, reason);
      },
    });
  }
}
