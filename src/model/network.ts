/**
 * Network needs of a job (`network.needs`): endpoints written as URLs, what a check of one found (a stable
 * code and a human label), and the pure rules around them (parsing, default ports, "did it pass"). The
 * checks themselves (DNS, TCP, TLS, HEAD) are I/O and live with the worker (src/worker/preflight.ts).
 */

/** What a check of one endpoint found. Stable: scripts, `kairos doctor --json` and placement read them. */
export const ENDPOINT_RESULTS = ['ok', 'dns_failed', 'refused', 'timed_out', 'unreachable', 'tls_error'] as const;
export type EndpointResult = (typeof ENDPOINT_RESULTS)[number];

/** The human label of each result, and what it usually means (docs/network.md says more). */
export const ENDPOINT_RESULT_LABELS: Readonly<Record<EndpointResult, string>> = {
  ok: 'ok',
  dns_failed: 'DNS lookup failed',
  refused: 'connection refused',
  timed_out: 'timed out',
  unreachable: 'network unreachable',
  tls_error: 'TLS error',
};

export const NETWORK_ON_FAILURE = ['fail', 'wait', 'warn'] as const;
export type NetworkOnFailure = (typeof NETWORK_ON_FAILURE)[number];

/** A job's network needs, compiled: every default applied. */
export interface CompiledNetwork {
  /** Endpoint URLs as written (each parses with `parseEndpoint`). */
  readonly needs: readonly string[];
  readonly onFailure: NetworkOnFailure;
  /** The one bound on a whole check of all endpoints (they are checked in parallel). */
  readonly timeoutMs: number;
  /** `wait`: the longest the checks are retried before the attempt fails. */
  readonly maxWaitMs: number;
}

export const NO_NETWORK: CompiledNetwork = { needs: [], onFailure: 'fail', timeoutMs: 5000, maxWaitMs: 600_000 };

/** Ports of the schemes people write, when the URL names none. */
export const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  http: 80,
  https: 443,
  s3: 443,
  postgres: 5432,
  postgresql: 5432,
  mysql: 3306,
  mariadb: 3306,
  mssql: 1433,
  sqlserver: 1433,
  oracle: 1521,
  redis: 6379,
  rediss: 6380,
  mongodb: 27017,
  amqp: 5672,
  amqps: 5671,
  kafka: 9092,
  nats: 4222,
  memcached: 11211,
  clickhouse: 9000,
  elasticsearch: 9200,
  ldap: 389,
  ldaps: 636,
  smtp: 25,
  smtps: 465,
  ssh: 22,
  sftp: 22,
  ftp: 21,
  grpc: 443,
};

/** How an endpoint is checked: `dns` resolves the name only; `tcp` connects; `http(s)` also does TLS and a HEAD. */
export type EndpointKind = 'dns' | 'tcp' | 'http' | 'https';

export interface Endpoint {
  /** As written. */
  readonly url: string;
  readonly kind: EndpointKind;
  readonly scheme: string;
  /** Without IPv6 brackets. */
  readonly host: string;
  /** 0 for `dns:`. */
  readonly port: number;
  /** For http(s): the path a HEAD asks for. */
  readonly path: string;
}

export type EndpointParse = { readonly ok: true; readonly endpoint: Endpoint } | { readonly ok: false; readonly message: string };

/** Parses an endpoint as `network.needs` accepts it; credentials in it are refused (they belong in secrets). */
export function parseEndpoint(raw: string): EndpointParse {
  const dns = /^dns:(?:\/\/)?([^/:@\s]+)$/i.exec(raw);
  if (dns) return { ok: true, endpoint: { url: raw, kind: 'dns', scheme: 'dns', host: dns[1] ?? '', port: 0, path: '' } };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, message: `expected an endpoint URL such as "postgres://db:5432", "https://s3.internal", "tcp://host:port" or "dns:name", got ${JSON.stringify(raw)}` };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, message: 'credentials in an endpoint URL are not allowed (they would be stored and shown): remove the user and password and give them to the job as `secrets`' };
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') return { ok: false, message: `expected a host in ${JSON.stringify(raw)}` };
  const explicit = url.port === '' ? null : Number(url.port);
  const port = explicit ?? DEFAULT_PORTS[scheme] ?? null;
  if (port === null) {
    return { ok: false, message: `the scheme "${scheme}" has no default port: write one, e.g. "${scheme}://${url.host}:PORT"` };
  }
  const kind: EndpointKind = scheme === 'http' || scheme === 'https' ? scheme : 'tcp';
  return { ok: true, endpoint: { url: raw, kind, scheme, host, port, path: kind === 'tcp' ? '' : `${url.pathname}${url.search}` || '/' } };
}

/** One endpoint's check as it is kept (with the attempt, with the worker) and shown. */
export interface EndpointCheck {
  readonly endpoint: string;
  readonly result: EndpointResult;
  /** Time the check took (ms); to the failure for a failed one. */
  readonly latencyMs: number;
  /** The system's own words (e.g. `connect ECONNREFUSED 10.0.0.2:5432`), null when ok. */
  readonly detail: string | null;
  /** When it was checked, by the checker's clock (epoch ms). */
  readonly checkedAt: number;
}

export function failedChecks(checks: readonly EndpointCheck[]): EndpointCheck[] {
  return checks.filter((c) => c.result !== 'ok');
}

/** `postgres://db:5432 connection refused, https://s3.internal timed out`. */
export function describeFailures(checks: readonly EndpointCheck[]): string {
  return failedChecks(checks)
    .map((c) => `${c.endpoint} ${ENDPOINT_RESULT_LABELS[c.result]}`)
    .join(', ');
}

/** Delay before the `n`th re-check (1-based) of a `wait` job: 1 s doubling to 30 s. */
export function networkWaitDelay(n: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, n - 1));
}
