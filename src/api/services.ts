/**
 * The server's end of the service relay (docs/services.md). A worker running a service job connects to
 * RELAY_PATH (a WebSocket, its `worker` token, the attempt's lease) and keeps that tunnel open while the
 * attempt runs; the server answers `/services/<project>/<job>/…` by sending each HTTP request and WebSocket
 * over the tunnel as a stream (src/protocol/relay.ts). The service's machine is never connected to.
 *
 * Access: a Kairos token of scope `run` (or more) for the project, in `Authorization: Bearer`, or a browser
 * session cookie made from a one-time ticket (`POST /api/v1/services/{project}/{job}/session`). Kairos's own
 * credentials (the Authorization header, its cookie, the ticket) are removed before a request is relayed;
 * the worker adds the service's own.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Engine } from '../control/engine.js';
import { requireLease } from '../control/dispatch/leases.js';
import { KairosError, coerceError } from '../model/errors.js';
import { isTerminal, type RunState } from '../model/run-state.js';
import { allows, type Principal } from '../model/scopes.js';
import { serviceBasePath, validServiceName } from '../model/service.js';
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
  isAcceptFrame,
  isHeadFrame,
  isStateFrame,
  parseJson,
  type HeaderPairs,
  type OpenFrame,
} from '../protocol/relay.js';
import { errorBody } from './errors.js';
import { createAuthenticator, type Authenticate } from './auth.js';
import { timingSafeEqual } from 'node:crypto';

/** The browser session's cookie; its path is the service's, so it is sent nowhere else. */
export const SESSION_COOKIE = 'kairos_service';
/** The one-time ticket's query parameter (exchanged for the cookie at once, then removed by a redirect). */
export const TICKET_PARAM = 'kairos_ticket';
const TICKET_MS = 60_000;
const SESSION_MS = 12 * 3600_000;
/** The server pings each tunnel this often; one that misses a ping is closed. */
const PING_MS = 15_000;

export interface ServiceView {
  readonly project: string;
  readonly job: string;
  readonly run_id: string;
  readonly attempt: number;
  readonly worker_id: string;
  readonly state: 'starting' | 'up';
  readonly path: string;
  readonly connected_at: string;
  readonly up_at: string | null;
  readonly last_used_at: string | null;
}

interface StreamSink {
  head(status: number, headers: HeaderPairs): void;
  data(chunk: Buffer): void;
  end(): void;
  reset(reason: string): void;
  accept?(protocol: string | null): void;
  message?(data: Buffer, binary: boolean): void;
  close?(code: number, reason: string): void;
}

class Tunnel {
  readonly streams = new Map<number, StreamSink>();
  private next = 1;
  up = false;
  upAt: number | null = null;
  lastUsed: number | null = null;
  readonly connectedAt = Date.now();
  alive = true;

  constructor(
    readonly ws: WebSocket,
    readonly project: string,
    readonly job: string,
    readonly runId: string,
    readonly attempt: number,
    readonly workerId: string,
  ) {}

  open(frame: OpenFrame, sink: StreamSink): number {
    const id = this.next++;
    if (this.next > 0xfffffff0) this.next = 1;
    this.streams.set(id, sink);
    this.lastUsed = Date.now();
    this.send(encodeJson(FRAME.open, id, frame));
    return id;
  }

  send(buf: Buffer): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(buf);
  }

  /** Stream bytes in frames of at most MAX_FRAME_BYTES. */
  sendData(stream: number, chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i += MAX_FRAME_BYTES) this.send(encodeFrame(FRAME.data, stream, chunk.subarray(i, i + MAX_FRAME_BYTES)));
  }

  drop(reason: string): void {
    for (const s of this.streams.values()) s.reset(reason);
    this.streams.clear();
  }
}

export interface ServiceRelayOptions {
  readonly engine: Engine;
  /** The server's bootstrap token (an admin token never stored). */
  readonly bootstrapToken: string | null;
  /** Tokens this process hands its own worker for its tunnels (never stored). */
  readonly internalTokens?: readonly string[];
}

interface Ticket {
  readonly principal: Principal;
  readonly project: string;
  readonly job: string;
  readonly expires: number;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const SERVICE_PATH = /^\/services\/([^/?#]*)\/([^/?#]*)(\/[^?#]*)?(\?.*)?$/;

/** The parts of a `/services/…` URL, or a reason it is refused. */
export function parseServiceUrl(url: string): { project: string; job: string; rest: string | null; query: string } | { error: string } {
  const m = SERVICE_PATH.exec(url);
  if (!m) return { error: 'expected /services/<project>/<job>/…' };
  const [, project = '', job = '', rest, query = ''] = m;
  if (!validServiceName(project, job)) return { error: 'not a project and job name' };
  if (rest !== undefined) {
    for (const seg of rest.split('/')) {
      let d: string;
      try {
        d = decodeURIComponent(seg);
      } catch {
        return { error: 'a path segment is not valid percent-encoding' };
      }
      // No climbing out of the service's path, not even encoded, and no byte that ends a path elsewhere.
      if (d === '.' || d === '..' || d.includes('/') || d.includes('\\') || d.includes('\0')) return { error: 'a path may not hold ".", ".." or encoded separators' };
    }
  }
  return { project, job, rest: rest ?? null, query };
}

function cookiesOf(req: IncomingMessage): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out.set(part.slice(0, i).trim(), part.slice(i + 1).trim());
  }
  return out;
}

/** The request's headers as relayed: hop-by-hop and every Kairos credential removed, forwarding headers added. */
export function forwardedHeaders(req: IncomingMessage, prefix: string): [string, string][] {
  const out: [string, string][] = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] ?? '').toLowerCase();
    const value = raw[i + 1] ?? '';
    if (HOP_BY_HOP.has(name) || name === 'authorization' || name.startsWith('x-kairos-') || name.startsWith('x-forwarded-') || name === 'forwarded') continue;
    if (name === 'cookie') {
      const kept = value
        .split(';')
        .map((c) => c.trim())
        .filter((c) => c !== '' && !c.startsWith(`${SESSION_COOKIE}=`));
      if (kept.length > 0) out.push(['cookie', kept.join('; ')]);
      continue;
    }
    out.push([name, value]);
  }
  out.push(['x-forwarded-for', req.socket.remoteAddress ?? ''], ['x-forwarded-proto', 'http'], ['x-forwarded-host', req.headers.host ?? ''], ['x-forwarded-prefix', prefix.replace(/\/$/, '')]);
  return out;
}

/** Response headers as sent to the client: hop-by-hop removed (the server frames the body itself). */
function responseHeaders(pairs: HeaderPairs): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [n, v] of pairs) {
    const name = n.toLowerCase();
    if (HOP_BY_HOP.has(name) || name === 'content-length') continue;
    const had = out[name];
    if (had === undefined) out[name] = v;
    else out[name] = Array.isArray(had) ? [...had, v] : [had, v];
  }
  return out;
}

function sendError(res: ServerResponse, err: unknown, extra: Record<string, string> = {}): void {
  const { status, body } = errorBody(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra });
  res.end(JSON.stringify(body));
}

function rejectUpgrade(socket: Duplex, err: unknown): void {
  const { status, body } = errorBody(err);
  const text = JSON.stringify(body);
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n\r\n${text}`);
}

export class ServiceRelay {
  private readonly tunnels = new Map<string, Tunnel>();
  private readonly tickets = new Map<string, Ticket>();
  private readonly sessions = new Map<string, Ticket>();
  private readonly authenticate: Authenticate;
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_TUNNEL_MESSAGE, perMessageDeflate: false, handleProtocols: (_protocols, req) => this.chosenProtocol.get(req) ?? false });
  private readonly chosenProtocol = new WeakMap<IncomingMessage, string>();
  private readonly pinger: NodeJS.Timeout;
  private readonly onRun: (e: { id: string; state: string }) => void;

  constructor(private readonly opts: ServiceRelayOptions) {
    this.authenticate = createAuthenticator({ db: opts.engine.db, bootstrapToken: opts.bootstrapToken });
    this.pinger = setInterval(() => {
      for (const t of this.tunnels.values()) {
        if (!t.alive) {
          t.ws.terminate();
          continue;
        }
        t.alive = false;
        t.ws.ping();
      }
    }, PING_MS);
    this.pinger.unref();
    // A run that ended (cancelled, failed, lost) has no service any more, whatever its worker still says.
    this.onRun = (e) => {
      if (!isTerminal(e.state as RunState)) return;
      for (const t of this.tunnels.values()) if (t.runId === e.id) this.closeTunnel(t, 'the run ended');
    };
    opts.engine.bus.on('run', this.onRun);
  }

  /** Running services (one per project and job), for the API and the dashboard. */
  list(visible: (project: string) => boolean): ServiceView[] {
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    return [...this.tunnels.values()]
      .filter((t) => visible(t.project))
      .sort((a, b) => `${a.project}/${a.job}`.localeCompare(`${b.project}/${b.job}`))
      .map((t) => ({
        project: t.project,
        job: t.job,
        run_id: t.runId,
        attempt: t.attempt,
        worker_id: t.workerId,
        state: t.up ? 'up' : 'starting',
        path: serviceBasePath(t.project, t.job),
        connected_at: new Date(t.connectedAt).toISOString(),
        up_at: iso(t.upAt),
        last_used_at: iso(t.lastUsed),
      }));
  }

  /** A one-time ticket (60 s) a browser exchanges for a session cookie of this one service. */
  createTicket(principal: Principal, project: string, job: string): { path: string; expires_in_s: number } {
    if (!validServiceName(project, job)) throw new KairosError('invalid_input', 'not a project and job name');
    this.requireAccess(principal, project);
    const now = Date.now();
    for (const [k, t] of this.tickets) if (t.expires < now) this.tickets.delete(k);
    const ticket = randomBytes(24).toString('base64url');
    this.tickets.set(ticket, { principal, project, job, expires: now + TICKET_MS });
    return { path: `${serviceBasePath(project, job)}?${TICKET_PARAM}=${ticket}`, expires_in_s: TICKET_MS / 1000 };
  }

  private requireAccess(principal: Principal, project: string): void {
    if (principal.project !== null && principal.project !== project) throw new KairosError('not_found', `no service of project "${project}"`);
    if (!allows(principal.scope, 'run')) throw new KairosError('forbidden', `token "${principal.name}" has scope ${principal.scope}; a service needs run`);
  }

  /** Whether a request is the relay's (a service's path, or a worker's tunnel). */
  handles(url: string | undefined): boolean {
    return url !== undefined && (url === '/services' || url.startsWith('/services/') || url === RELAY_PATH || url.startsWith(`${RELAY_PATH}?`));
  }

  /** Who calls a service: a Kairos token, the service's session cookie, or a ticket (then `ticket` is set). */
  private async caller(req: IncomingMessage, project: string, job: string, query: string): Promise<{ principal: Principal; ticket: boolean }> {
    const header = req.headers.authorization ?? '';
    if (header.startsWith('Bearer ')) {
      const p = await this.authenticate(header);
      if (!p) throw new KairosError('unauthorized', 'a valid token is required (Authorization: Bearer <token>); it is missing, unknown or revoked');
      return { principal: p, ticket: false };
    }
    const ticket = new URLSearchParams(query.replace(/^\?/, '')).get(TICKET_PARAM);
    if (ticket) {
      const t = this.tickets.get(ticket);
      this.tickets.delete(ticket);
      if (!t || t.expires < Date.now() || t.project !== project || t.job !== job) throw new KairosError('unauthorized', 'this link has expired or was used already: open the service again from the dashboard or `kairos jupyter`');
      return { principal: t.principal, ticket: true };
    }
    const sid = cookiesOf(req).get(SESSION_COOKIE);
    if (sid) {
      const s = this.sessions.get(sid);
      if (s && s.expires > Date.now() && s.project === project && s.job === job) return { principal: s.principal, ticket: false };
    }
    // A server with no token of any kind is open to everyone on its loopback, as its API is.
    const open = await this.authenticate('');
    if (open) return { principal: open, ticket: false };
    throw new KairosError('unauthorized', 'a valid token is required (Authorization: Bearer <token>), or open the service from the dashboard');
  }

  private async whyNoService(project: string, job: string): Promise<KairosError> {
    const last = await this.opts.engine.db.kysely.selectFrom('runs').select(['id', 'state']).where('project', '=', project).where('job', '=', job).orderBy('created_at', 'desc').limit(1).executeTakeFirst();
    if (last && isTerminal(last.state as RunState)) return new KairosError('gone', `the service ${project}/${job} stopped: its last run ${last.id} ended ${last.state}`);
    if (last) return new KairosError('unavailable', `the service ${project}/${job} is starting (run ${last.id} is ${last.state})`);
    return new KairosError('not_found', `no service ${project}/${job} is running`);
  }

  async handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = req.url ?? '/';
      const parsed = parseServiceUrl(url);
      if ('error' in parsed) throw new KairosError('not_found', `no route for ${req.method ?? 'GET'} ${url.split('?')[0]}: ${parsed.error}`);
      const { project, job, rest, query } = parsed;
      const base = serviceBasePath(project, job);
      const who = await this.caller(req, project, job, query);
      this.requireAccess(who.principal, project);
      if (rest === null) {
        // `/services/p/j` → `/services/p/j/`, so the service's relative links resolve under its path.
        res.writeHead(308, { location: base + query, 'cache-control': 'no-store' });
        res.end();
        return;
      }
      if (who.ticket) {
        const sid = randomBytes(32).toString('base64url');
        this.sessions.set(sid, { principal: who.principal, project, job, expires: Date.now() + SESSION_MS });
        const params = new URLSearchParams(query.replace(/^\?/, ''));
        params.delete(TICKET_PARAM);
        const left = params.toString();
        res.writeHead(303, {
          location: `/services/${project}/${job}${rest}${left ? `?${left}` : ''}`,
          'set-cookie': `${SESSION_COOKIE}=${sid}; Path=${base}; HttpOnly; SameSite=Lax; Max-Age=${SESSION_MS / 1000}`,
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
        });
        res.end();
        return;
      }
      const tunnel = this.tunnels.get(`${project}/${job}`);
      if (!tunnel) throw await this.whyNoService(project, job);
      if (!tunnel.up) throw new KairosError('unavailable', `the service ${project}/${job} is starting (run ${tunnel.runId}): it does not answer its health check yet`);
      this.relayHttp(tunnel, req, res, { method: req.method ?? 'GET', path: url, headers: forwardedHeaders(req, base), ws: false });
    } catch (err) {
      const e = coerceError(err);
      sendError(res, err, e instanceof KairosError && e.code === 'unavailable' ? { 'retry-after': '2' } : {});
    }
  }

  private relayHttp(tunnel: Tunnel, req: IncomingMessage, res: ServerResponse, frame: OpenFrame): void {
    let done = false;
    const id = tunnel.open(frame, {
      head: (status, headers) => {
        if (!res.headersSent) res.writeHead(status, responseHeaders(headers));
      },
      data: (chunk) => {
        tunnel.lastUsed = Date.now();
        res.write(chunk);
      },
      end: () => {
        done = true;
        tunnel.streams.delete(id);
        res.end();
      },
      reset: (reason) => {
        done = true;
        tunnel.streams.delete(id);
        if (!res.headersSent) sendError(res, new KairosError('bad_gateway', `the service did not answer: ${reason}`));
        else res.destroy();
      },
    });
    req.on('data', (chunk: Buffer) => tunnel.sendData(id, chunk));
    req.on('end', () => tunnel.send(encodeFrame(FRAME.end, id)));
    res.on('close', () => {
      if (done) return;
      done = true;
      tunnel.streams.delete(id);
      tunnel.send(encodeFrame(FRAME.reset, id, 'the client went away'));
    });
  }

  async handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => undefined);
    try {
      const url = req.url ?? '/';
      if (url === RELAY_PATH || url.startsWith(`${RELAY_PATH}?`)) return await this.acceptTunnel(req, socket, head);
      const parsed = parseServiceUrl(url);
      if ('error' in parsed || parsed.rest === null) throw new KairosError('not_found', `no WebSocket at ${url.split('?')[0]}`);
      const { project, job } = parsed;
      const who = await this.caller(req, project, job, '');
      this.requireAccess(who.principal, project);
      // A browser sends its cookie with a WebSocket from any page: only pages of this server may use it.
      if (!req.headers.authorization && req.headers.origin !== undefined) {
        let originHost = '';
        try {
          originHost = new URL(req.headers.origin).host;
        } catch {
          // not a URL: refused below
        }
        if (originHost !== req.headers.host) throw new KairosError('forbidden', 'a WebSocket from another site may not use the service session');
      }
      const tunnel = this.tunnels.get(`${project}/${job}`);
      if (!tunnel) throw await this.whyNoService(project, job);
      if (!tunnel.up) throw new KairosError('unavailable', `the service ${project}/${job} is starting`);
      this.relayWebSocket(tunnel, req, socket, head, { method: 'GET', path: url, headers: forwardedHeaders(req, serviceBasePath(project, job)), ws: true });
    } catch (err) {
      rejectUpgrade(socket, err);
    }
  }

  private relayWebSocket(tunnel: Tunnel, req: IncomingMessage, socket: Duplex, head: Buffer, frame: OpenFrame): void {
    let client: WebSocket | null = null;
    const pending: Buffer[] = [];
    const forget = () => tunnel.streams.delete(id);
    // The protocol the client offered is passed on: the upstream picks, and the client gets the same answer.
    const offered = req.headers['sec-websocket-protocol'];
    const id = tunnel.open({ ...frame, headers: offered ? [...frame.headers, ['sec-websocket-protocol', offered]] : frame.headers }, {
      head: (status) => {
        forget();
        socket.end(`HTTP/1.1 ${status} Refused\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
      },
      data: () => undefined,
      end: () => undefined,
      reset: (reason) => {
        forget();
        if (client) client.close(1011, reason.slice(0, 100));
        else socket.destroy();
      },
      accept: (protocol) => {
        if (protocol) this.chosenProtocol.set(req, protocol);
        this.wss.handleUpgrade(req, socket, head, (ws) => {
          client = ws;
          for (const b of pending) ws.send(b);
          ws.on('message', (data: RawData, binary: boolean) => {
            tunnel.lastUsed = Date.now();
            tunnel.send(encodeMessage(id, toBuffer(data), binary));
          });
          ws.on('close', (code, reason) => {
            if (!tunnel.streams.has(id)) return;
            forget();
            tunnel.send(encodeClose(id, code, reason.toString()));
          });
          ws.on('error', () => undefined);
        });
      },
      message: (data, binary) => {
        tunnel.lastUsed = Date.now();
        if (client) client.send(data, { binary });
      },
      close: (code, reason) => {
        forget();
        if (client) client.close(code, reason);
        else socket.destroy();
      },
    });
    socket.on('close', () => {
      if (client === null && tunnel.streams.has(id)) {
        forget();
        tunnel.send(encodeFrame(FRAME.reset, id, 'the client went away'));
      }
    });
  }

  /** A worker's tunnel for one running attempt of a service job. */
  private async acceptTunnel(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const header = req.headers.authorization ?? '';
    const sent = /^Bearer (\S+)$/.exec(header)?.[1] ?? '';
    const internal = sent !== '' && (this.opts.internalTokens ?? []).some((t) => sameSecret(t, sent));
    if (!internal) {
      const p = await this.authenticate(header);
      if (!p) throw new KairosError('unauthorized', 'a valid worker token is required');
      if (!allows(p.scope, 'worker') || p.project !== null) throw new KairosError('forbidden', `token "${p.name}" may not relay services (it needs the worker scope)`);
    }
    const m = /^(\S{1,300}) (\d{1,7}) (\S{1,300})$/.exec(String(req.headers[LEASE_HEADER] ?? ''));
    if (!m) throw new KairosError('invalid_input', `the ${LEASE_HEADER} header must be "<run> <attempt> <token>"`);
    const lease = { runId: m[1] ?? '', attempt: Number(m[2]), token: m[3] ?? '' };
    const { engine } = this.opts;
    const { run, attempt } = await requireLease(engine.db.kysely, lease, { liveAt: engine.ctx.now() });
    const spec = (await engine.ctx.manifestOf(run.deployment_id)).jobs[run.job];
    if (!spec?.service) throw new KairosError('invalid_input', `job ${run.project}/${run.job} is not a service`);
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const key = `${run.project}/${run.job}`;
      const t = new Tunnel(ws, run.project, run.job, run.id, lease.attempt, attempt.worker_id);
      const old = this.tunnels.get(key);
      // The newest attempt of the job serves its path; an older one still connected is cut off.
      if (old) this.closeTunnel(old, 'a newer attempt of the service connected');
      this.tunnels.set(key, t);
      ws.on('pong', () => (t.alive = true));
      ws.on('message', (data: RawData) => this.onTunnelFrame(t, lease, toBuffer(data)));
      ws.on('close', () => {
        if (this.tunnels.get(key) === t) this.tunnels.delete(key);
        t.drop('the service\'s worker disconnected');
      });
      ws.on('error', () => undefined);
    });
  }

  private onTunnelFrame(t: Tunnel, lease: { runId: string; attempt: number }, buf: Buffer): void {
    const f = decodeFrame(buf);
    if (!f) return;
    if (f.type === FRAME.state) {
      const s = parseJson(f.payload, isStateFrame);
      if (!s) return;
      t.up = s.state === 'up';
      if (t.up && t.upAt === null) {
        t.upAt = Date.now();
        void this.opts.engine.db.kysely
          .updateTable('attempts')
          .set({ service_up_at: t.upAt })
          .where('run_id', '=', lease.runId)
          .where('number', '=', lease.attempt)
          .where('service_up_at', 'is', null)
          .execute()
          .catch(() => undefined);
      }
      return;
    }
    const s = t.streams.get(f.stream);
    if (!s) return;
    switch (f.type) {
      case FRAME.head: {
        const h = parseJson(f.payload, isHeadFrame);
        if (h) s.head(h.status, h.headers);
        else s.reset('a malformed response');
        return;
      }
      case FRAME.data:
        s.data(f.payload);
        return;
      case FRAME.end:
        s.end();
        return;
      case FRAME.reset:
        s.reset(f.payload.toString().slice(0, 200));
        return;
      case FRAME.accept: {
        const a = parseJson(f.payload, isAcceptFrame);
        if (a) s.accept?.(a.protocol);
        return;
      }
      case FRAME.message: {
        const m = decodeMessage(f.payload);
        s.message?.(m.data, m.binary);
        return;
      }
      case FRAME.close: {
        const c = decodeClose(f.payload);
        s.close?.(c.code, c.reason);
        return;
      }
      default:
        return;
    }
  }

  private closeTunnel(t: Tunnel, why: string): void {
    if (this.tunnels.get(`${t.project}/${t.job}`) === t) this.tunnels.delete(`${t.project}/${t.job}`);
    t.drop(why);
    t.ws.close(1000, why.slice(0, 100));
  }

  close(): void {
    clearInterval(this.pinger);
    this.opts.engine.bus.off('run', this.onRun);
    for (const t of [...this.tunnels.values()]) this.closeTunnel(t, 'the server is stopping');
    this.wss.close();
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
