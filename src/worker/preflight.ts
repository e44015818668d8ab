/**
 * The network preflight: every endpoint a job needs, checked in parallel under one bound, each classified
 * (src/model/network.ts): DNS lookup, TCP connect, and for http(s) a TLS handshake (https) and a HEAD.
 * Used before an attempt starts and when `kairos doctor` asks a worker for its matrix.
 */
import { lookup } from 'node:dns/promises';
import { connect as tcpConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { parseEndpoint, type EndpointCheck, type EndpointResult } from '../model/network.js';

type Phase = 'dns' | 'connect' | 'tls' | 'http';

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA', 'ENODATA', 'ESERVFAIL', 'ENONAME', 'ECONNREFUSED_DNS']);
const UNREACHABLE_CODES = new Set(['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL', 'ECONNRESET', 'EPIPE']);

function errCode(err: unknown): string {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : '';
}

/** An error (or the bound running out) in a phase → the result it means. */
export function classify(phase: Phase, err: unknown, deadline: boolean): EndpointResult {
  if (deadline) return phase === 'dns' ? 'dns_failed' : 'timed_out';
  const code = errCode(err);
  if (phase === 'dns' || DNS_CODES.has(code)) return 'dns_failed';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ETIMEDOUT') return 'timed_out';
  if (code.startsWith('ERR_TLS') || code.startsWith('ERR_SSL') || code.startsWith('CERT_') || code.includes('CERT') || code === 'EPROTO' || code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE') return 'tls_error';
  if (phase === 'tls') return 'tls_error';
  if (UNREACHABLE_CODES.has(code)) return 'unreachable';
  return 'unreachable';
}

class Deadline extends Error {}

/** Checks one endpoint; never throws. `signal` is the shared bound. */
async function checkOne(raw: string, signal: AbortSignal): Promise<EndpointCheck> {
  const t0 = performance.now();
  const checkedAt = Date.now();
  const done = (result: EndpointResult, detail: string | null): EndpointCheck => ({ endpoint: raw, result, latencyMs: Math.round((performance.now() - t0) * 100) / 100, detail, checkedAt });
  const parsed = parseEndpoint(raw);
  if (!parsed.ok) return done('dns_failed', parsed.message);
  const ep = parsed.endpoint;
  let phase: Phase = 'dns';
  let socket: Socket | null = null;
  const aborted = new Promise<never>((_, reject) => {
    const fire = () => reject(new Deadline());
    if (signal.aborted) fire();
    else signal.addEventListener('abort', fire, { once: true });
  });
  aborted.catch(() => {});
  const race = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);
  try {
    let address = ep.host;
    if (isIP(ep.host) === 0) address = (await race(lookup(ep.host))).address;
    if (ep.kind === 'dns') return done('ok', null);
    phase = 'connect';
    const s = tcpConnect({ host: address, port: ep.port });
    socket = s;
    // Errors after the verdict (a reset while closing) must not go unhandled.
    s.on('error', () => {});
    await race(new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    }));
    if (ep.kind === 'tcp') return done('ok', null);
    let stream: Socket = s;
    if (ep.kind === 'https') {
      phase = 'tls';
      const t = tlsConnect({ socket: s, servername: isIP(ep.host) === 0 ? ep.host : undefined, host: ep.host, ALPNProtocols: ['http/1.1'] });
      socket = t;
      t.on('error', () => {});
      await race(new Promise<void>((resolve, reject) => {
        t.once('secureConnect', resolve);
        t.once('error', reject);
        t.once('close', () => reject(Object.assign(new Error('the connection closed during the TLS handshake'), { code: 'ECONNRESET' })));
      }));
      stream = t;
    }
    phase = 'http';
    const host = isIP(ep.host) === 6 ? `[${ep.host}]` : ep.host;
    await race(new Promise<void>((resolve, reject) => {
      let head = '';
      stream.on('data', (chunk: Buffer) => {
        head += chunk.toString('latin1');
        if (head.length >= 5) {
          if (head.startsWith('HTTP/')) resolve();
          else reject(Object.assign(new Error('the answer to HEAD is not HTTP'), { code: 'EPROTO_HTTP' }));
        }
      });
      stream.once('error', reject);
      stream.once('end', () => reject(Object.assign(new Error('the connection closed before an HTTP answer'), { code: 'ECONNRESET' })));
      stream.write(`HEAD ${ep.path} HTTP/1.1\r\nHost: ${host}:${ep.port}\r\nUser-Agent: kairos-preflight\r\nConnection: close\r\n\r\n`);
    }));
    return done('ok', null);
  } catch (err) {
    const deadline = err instanceof Deadline;
    const detail = deadline ? `no answer within the bound (during ${phase === 'dns' ? 'the DNS lookup' : phase === 'connect' ? 'the TCP connect' : phase === 'tls' ? 'the TLS handshake' : 'the HEAD request'})` : err instanceof Error ? err.message : String(err);
    return done(classify(phase, err, deadline), detail);
  } finally {
    socket?.destroy();
  }
}

/** Checks every endpoint in parallel; the whole check takes at most about `timeoutMs`. */
export async function checkEndpoints(endpoints: readonly string[], timeoutMs: number): Promise<EndpointCheck[]> {
  if (endpoints.length === 0) return [];
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    return await Promise.all(endpoints.map((e) => checkOne(e, ac.signal)));
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
}

/** The worker's memory of its latest check of each endpoint (what it reported to the server, which places runs by it). */
export class NetworkMemory {
  private readonly latest = new Map<string, EndpointCheck>();

  remember(checks: readonly EndpointCheck[]): void {
    for (const c of checks) {
      this.latest.set(c.endpoint, c);
    }
    if (this.latest.size > 1000) this.latest.delete(this.latest.keys().next().value ?? '');
  }

  all(): EndpointCheck[] {
    return [...this.latest.values()];
  }
}
