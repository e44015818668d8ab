/**
 * Alerts, the pure part: which `notify` rules a run's end or its metrics trigger, what the notice says, how
 * long a failed delivery waits, and which addresses a webhook may not reach. No I/O; time and randomness are
 * arguments.
 */
import { isIP } from 'node:net';
import type { NotifyFormat, NotifyRule } from './job.js';
import type { RunState } from './run-state.js';
import { backoffDelay } from './retry.js';

export const ALERT_KINDS = {
  failure: 'failure',
  recovery: 'recovery',
  late_start: 'late_start',
  late_finish: 'late_finish',
  metric: 'metric',
} as const;
export type AlertKind = (typeof ALERT_KINDS)[keyof typeof ALERT_KINDS];

/** An alert's delivery: `pending` (waiting for its first or next attempt), then `delivered` or `failed` for good. */
export const ALERT_STATES = { pending: 'pending', delivered: 'delivered', failed: 'failed' } as const;
export type AlertState = (typeof ALERT_STATES)[keyof typeof ALERT_STATES];
export const ALERT_STATE_LIST: readonly AlertState[] = Object.values(ALERT_STATES);

/** Run states that count as a failure of the job (for `on: failure`, and as what `on: recovery` recovers from). */
export function isFailure(state: string): boolean {
  return state === 'failed' || state === 'timed_out';
}

/** A decision to enqueue one alert. */
export interface AlertIntent {
  readonly rule: NotifyRule;
  readonly kind: AlertKind;
}

/**
 * The alerts a run's end triggers. `previous`: the state of the job's latest earlier run that ended succeeded,
 * failed or timed out (null when there is none). Cancelled and skipped runs trigger nothing.
 */
export function alertsOnRunEnd(rules: readonly NotifyRule[], state: RunState, previous: string | null): AlertIntent[] {
  const out: AlertIntent[] = [];
  for (const rule of rules) {
    if (rule.on === 'failure' && isFailure(state)) out.push({ rule, kind: ALERT_KINDS.failure });
    if (rule.on === 'recovery' && state === 'succeeded' && previous !== null && isFailure(previous)) out.push({ rule, kind: ALERT_KINDS.recovery });
  }
  return out;
}

export interface MetricValue {
  readonly name: string;
  readonly value: number;
}

/** For each metric rule, the first reported value beyond its threshold (`> above` or `< below`). */
export function metricCrossings(rules: readonly NotifyRule[], metrics: readonly MetricValue[]): { rule: NotifyRule & { on: 'metric' }; value: number }[] {
  const out: { rule: NotifyRule & { on: 'metric' }; value: number }[] = [];
  for (const rule of rules) {
    if (rule.on !== 'metric') continue;
    const hit = metrics.find((m) => m.name === rule.metric && ((rule.above !== null && m.value > rule.above) || (rule.below !== null && m.value < rule.below)));
    if (hit) out.push({ rule, value: hit.value });
  }
  return out;
}

/** What the late check knows about an active scheduled run. */
export interface ActiveRun {
  /** The tick: the run's scheduled instant. */
  readonly scheduledFor: number;
  /** Whether an attempt has started (a run waiting for a retry has). */
  readonly started: boolean;
}

/** The late alerts due for an active run at `now`. */
export function lateAlerts(rules: readonly NotifyRule[], run: ActiveRun, now: number): AlertIntent[] {
  const out: AlertIntent[] = [];
  for (const rule of rules) {
    if (rule.on !== 'late') continue;
    if (rule.startMs !== null && !run.started && now >= run.scheduledFor + rule.startMs) out.push({ rule, kind: ALERT_KINDS.late_start });
    if (rule.finishMs !== null && now >= run.scheduledFor + rule.finishMs) out.push({ rule, kind: ALERT_KINDS.late_finish });
  }
  return out;
}

// ── the notice ──

/** The generic JSON body, as stored in the outbox (`url` is added when it is sent). */
export interface AlertPayload {
  readonly event: AlertKind;
  readonly project: string;
  readonly job: string;
  readonly run_id: string;
  readonly state: string;
  readonly reason: string | null;
  /** The run's reason as a stable code (docs/runs.md); absent from alerts enqueued before the codes. */
  readonly reason_code?: string | null;
  readonly exit_code: number | null;
  readonly attempt: number;
  readonly scheduled_for: string | null;
  /** For `metric`: the metric, the value that crossed, and the rule's thresholds. */
  readonly metric?: { readonly name: string; readonly value: number; readonly above: number | null; readonly below: number | null };
  /** For `late_start` / `late_finish`: the deadline that passed. */
  readonly deadline?: string;
  /** Set when the alert is about a pipeline run (`pipelines.<name>.notify`): its name; `job` holds it too and `run_id` is the pipeline run's id. */
  readonly pipeline?: string;
}

export type AlertBody = AlertPayload & { readonly url: string };

const HEADLINE: Readonly<Record<AlertKind, string>> = {
  failure: 'failed',
  recovery: 'recovered',
  late_start: 'has not started in time',
  late_finish: 'has not finished in time',
  metric: 'reported a metric beyond its threshold',
};

/** One line a person reads: what happened to which run, and why. */
export function alertText(b: AlertBody): string {
  const what = b.event === 'failure' && b.state === 'timed_out' ? 'timed out' : HEADLINE[b.event];
  const parts = [`Kairos: ${b.project}/${b.job} ${b.pipeline !== undefined ? 'pipeline run' : 'run'} ${b.run_id} ${what}`];
  if (b.metric) parts.push(`${b.metric.name} = ${b.metric.value} (${b.metric.above !== null ? `above ${b.metric.above}` : `below ${b.metric.below}`})`);
  if (b.deadline) parts.push(`deadline ${b.deadline}`);
  if (b.reason && (b.event === 'failure' || b.event === 'late_start' || b.event === 'late_finish')) parts.push(b.reason);
  return parts.join(': ');
}

/** The POST body in a rule's format. */
export function alertBody(format: NotifyFormat, b: AlertBody): Record<string, unknown> {
  switch (format) {
    case 'json':
      return { ...b };
    case 'slack': {
      const text = `${alertText(b)} (${b.url})`;
      return {
        text,
        blocks: [
          { type: 'section', text: { type: 'mrkdwn', text: `*${escapeSlack(alertText(b))}*` } },
          { type: 'context', elements: [{ type: 'mrkdwn', text: `<${b.url}|Open ${b.pipeline !== undefined ? 'pipeline run' : 'run'} ${b.run_id}> · state ${b.state}${b.reason_code ? ` (${b.reason_code})` : ''} · attempt ${b.attempt}` }] },
        ],
      };
    }
  }
}

/** Slack's mrkdwn treats <, > and & as markup. */
function escapeSlack(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

// ── delivery ──

export interface DeliveryPolicy {
  /** Wait before the second attempt; doubled after each failure. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Attempts in all, the first included. */
  readonly maxAttempts: number;
}

export const DEFAULT_DELIVERY: DeliveryPolicy = { baseDelayMs: 1_000, maxDelayMs: 600_000, maxAttempts: 10 };

export type DeliveryDecision = { readonly kind: 'retry'; readonly delayMs: number } | { readonly kind: 'fail' };

/** After `attempts` failed attempts: wait (exponential, ±20% jitter from `random` in [0,1)) or give up. */
export function nextDelivery(policy: DeliveryPolicy, attempts: number, random: number): DeliveryDecision {
  if (attempts >= policy.maxAttempts) return { kind: 'fail' };
  return { kind: 'retry', delayMs: backoffDelay({ baseMs: policy.baseDelayMs, factor: 2, maxMs: policy.maxDelayMs, jitter: 0.4 }, attempts, random) };
}

// ── which addresses a webhook may reach ──

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'unique-local' | 'unspecified';

function v4Class(ip: string): AddressClass {
  const [a = 0, b = 0] = ip.split('.').map(Number);
  if (a === 127) return 'loopback';
  if (a === 0) return 'unspecified';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
  if (a === 169 && b === 254) return 'link-local';
  return 'public';
}

/** The eight 16-bit groups of an IPv6 address (which `isIP` already accepted). */
function v6Groups(ip: string): number[] {
  let s = ip.toLowerCase().replace(/%.*$/, '');
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted[1].split('.').map(Number);
    s = s.slice(0, -dotted[1].length) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = s.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

/** What kind of address `ip` is; anything that is not `public` is internal. */
export function classifyAddress(ip: string): AddressClass {
  const family = isIP(ip);
  if (family === 4) return v4Class(ip);
  if (family !== 6) return 'unspecified';
  const g = v6Groups(ip);
  const first = g[0] ?? 0;
  const zeroUpTo = (n: number) => g.slice(0, n).every((x) => x === 0);
  // IPv4-mapped (::ffff:a.b.c.d) and the deprecated IPv4-compatible forms reach the IPv4 address.
  if (zeroUpTo(5) && g[5] === 0xffff) return v4Class(`${(g[6] ?? 0) >> 8}.${(g[6] ?? 0) & 255}.${(g[7] ?? 0) >> 8}.${(g[7] ?? 0) & 255}`);
  if (zeroUpTo(7) && g[7] === 1) return 'loopback';
  if (zeroUpTo(8)) return 'unspecified';
  if ((first & 0xffc0) === 0xfe80) return 'link-local';
  if ((first & 0xfe00) === 0xfc00) return 'unique-local';
  return 'public';
}

/** The server's allow-list: `*`, host names (as written in webhook URLs) and IP addresses. */
export function parseAllowList(text: string | undefined): readonly string[] {
  return (text ?? '').split(',').map((s) => s.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1')).filter((s) => s !== '');
}

/** Why connecting to `address` (resolved from `host`) is refused, or null when it may go ahead. */
export function refusal(host: string, address: string, allow: readonly string[]): string | null {
  const cls = classifyAddress(address);
  if (cls === 'public') return null;
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (allow.includes('*') || allow.includes(h) || allow.includes(address.toLowerCase())) return null;
  const where = h === address.toLowerCase() ? address : `${host} resolves to ${address}`;
  return `refused: ${where}, a ${cls} address; a server allows internal webhook hosts with --allow-webhook-hosts (KAIROS_ALLOW_WEBHOOK_HOSTS)`;
}
