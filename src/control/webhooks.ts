/**
 * Delivering alerts: a loop claims due rows of the outbox, POSTs each to its webhook, and records the
 * outcome. Several replicas may run it: a row is claimed by a conditional UPDATE (on its state and the
 * `next_attempt_at` it was read with), which only one of them can win; a claim that is never completed
 * (the process died) becomes due again after CLAIM_MS.
 *
 * Webhook targets are checked against internal addresses: the host is resolved once, the address is
 * checked, and the connection goes to exactly that address (no second lookup an attacker could answer
 * differently).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { ALERT_STATES, DEFAULT_DELIVERY, alertBody, nextDelivery, refusal, type AlertBody, type AlertPayload, type DeliveryPolicy } from '../model/alerts.js';
import { coerceError } from '../model/errors.js';
import { VERSION } from '../version.js';
import type { NotifyFormat } from '../model/job.js';
import type { Ctx } from './context.js';
import { Loop } from '../lib/loop.js';

export interface DeliverySettings {
  /** Base of the links in alerts: `<publicUrl>/runs/<id>`. */
  readonly publicUrl: string;
  /** Host names and addresses that may be internal (`*`: any). */
  readonly allowHosts: readonly string[];
  readonly policy: DeliveryPolicy;
  /** Longest a POST may take, connecting included. */
  readonly timeoutMs: number;
}

/** What a user sets: the base of links (default: where the API listens), internal hosts allowed, the first retry's delay. */
export interface AlertOptions {
  readonly publicUrl?: string | null;
  readonly allowHosts?: readonly string[];
  readonly baseDelayMs?: number;
}

/** The delivery settings once the API listens at `listenUrl`. */
export function deliverySettings(o: AlertOptions, listenUrl: string): DeliverySettings {
  return {
    publicUrl: o.publicUrl ?? listenUrl,
    allowHosts: o.allowHosts ?? [],
    policy: { ...DEFAULT_DELIVERY, baseDelayMs: o.baseDelayMs ?? DEFAULT_DELIVERY.baseDelayMs },
    timeoutMs: 10_000,
  };
}

/** What one POST came to. `refused`: never sent (an internal address); not retried. */
export type PostOutcome = { readonly kind: 'delivered' } | { readonly kind: 'error'; readonly message: string } | { readonly kind: 'refused'; readonly message: string };

/** The link to a run on the dashboard. */
export function runLink(publicUrl: string, runId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/runs/${encodeURIComponent(runId)}`;
}

/** The link to a pipeline run on the dashboard. */
export function pipelineRunLink(publicUrl: string, pipelineRunId: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/pipeline-runs/${encodeURIComponent(pipelineRunId)}`;
}

/** The part of a webhook URL that may be shown: its origin. Paths and queries often hold the hook's secret. */
export function targetOrigin(target: string): string {
  try {
    return new URL(target).origin;
  } catch {
    return '(invalid URL)';
  }
}

/** Resolves the host, checks the address, and POSTs `body` to that very address. */
export async function postWebhook(target: string, body: unknown, allowHosts: readonly string[], timeoutMs: number): Promise<PostOutcome> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return { kind: 'refused', message: 'refused: the webhook is not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { kind: 'refused', message: `refused: scheme ${url.protocol} is not http or https` };
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  let address: string;
  let family: number;
  if (isIP(host)) {
    address = host;
    family = isIP(host);
  } else {
    try {
      const r = await dnsLookup(host);
      address = r.address;
      family = r.family;
    } catch (err) {
      return { kind: 'error', message: `cannot resolve ${host}: ${(err as NodeJS.ErrnoException).code ?? coerceError(err).message}` };
    }
  }
  const refused = refusal(host, address, allowHosts);
  if (refused) return { kind: 'refused', message: refused };
  // The connection uses the checked address, whatever a second lookup would say.
  const pinned: LookupFunction = (_h, opts, cb) => {
    if ((opts as { all?: boolean }).all) (cb as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else cb(null, address, family);
  };
  const payload = JSON.stringify(body);
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<PostOutcome>((resolve) => {
    let settled = false;
    const done = (o: PostOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(o);
    };
    const req = transport.request(
      url,
      {
        method: 'POST',
        lookup: pinned,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'user-agent': `kairos/${VERSION}` },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          done(status >= 200 && status < 300 ? { kind: 'delivered' } : { kind: 'error', message: `HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''} from ${url.origin}` });
        });
        res.on('error', (err) => done({ kind: 'error', message: `reading the answer of ${url.origin}: ${err.message}` }));
      },
    );
    const timer = setTimeout(() => {
      req.destroy();
      done({ kind: 'error', message: `no answer from ${url.origin} within ${timeoutMs} ms` });
    }, timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'ECONNREFUSED' ? 'connection refused' : err.code === 'ECONNRESET' ? 'connection reset' : (err.code ?? err.message);
      done({ kind: 'error', message: `${why} (${url.origin}, address ${address})` });
    });
    req.end(payload);
  });
}

/** A claim lasts this long past the POST's own timeout: a process that died holding one gives it up then. */
const CLAIM_MARGIN_MS = 30_000;
/** Rows claimed per pass, and POSTs in flight at once. */
const BATCH = 16;

/** One pass: claims due alerts, delivers them, records each outcome. Returns how many were attempted. */
export async function deliverDue(ctx: Ctx, s: DeliverySettings): Promise<number> {
  const now = ctx.now();
  const due = await ctx.db.kysely
    .selectFrom('alerts')
    .select(['id', 'next_attempt_at'])
    .where('state', '=', ALERT_STATES.pending)
    .where('next_attempt_at', '<=', now)
    .orderBy('next_attempt_at')
    .limit(BATCH)
    .execute();
  if (due.length === 0) return 0;
  const claimed: string[] = [];
  await ctx.db.tx(async (trx) => {
    for (const d of due) {
      const r = await trx
        .updateTable('alerts')
        .set((eb) => ({ attempts: eb('attempts', '+', 1), next_attempt_at: now + s.timeoutMs + CLAIM_MARGIN_MS }))
        .where('id', '=', d.id)
        .where('state', '=', ALERT_STATES.pending)
        .where('next_attempt_at', '=', d.next_attempt_at)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 1) claimed.push(d.id);
    }
  });
  await Promise.all(claimed.map((id) => deliverOne(ctx, s, id)));
  return claimed.length;
}

async function deliverOne(ctx: Ctx, s: DeliverySettings, id: string): Promise<void> {
  const row = await ctx.db.kysely.selectFrom('alerts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) return;
  const payload = JSON.parse(row.payload_json) as AlertPayload;
  const body: AlertBody = { ...payload, url: payload.pipeline !== undefined ? pipelineRunLink(s.publicUrl, row.run_id) : runLink(s.publicUrl, row.run_id) };
  const outcome = await postWebhook(row.target, alertBody(row.format as NotifyFormat, body), s.allowHosts, s.timeoutMs);
  const now = ctx.now();
  let patch: { state: string; last_error: string | null; next_attempt_at: number; delivered_at?: number };
  switch (outcome.kind) {
    case 'delivered':
      patch = { state: ALERT_STATES.delivered, last_error: null, next_attempt_at: now, delivered_at: now };
      break;
    case 'refused':
      patch = { state: ALERT_STATES.failed, last_error: outcome.message, next_attempt_at: now };
      break;
    case 'error': {
      const next = nextDelivery(s.policy, row.attempts, ctx.random());
      patch =
        next.kind === 'retry'
          ? { state: ALERT_STATES.pending, last_error: outcome.message, next_attempt_at: now + next.delayMs }
          : { state: ALERT_STATES.failed, last_error: `${outcome.message} (gave up after ${row.attempts} attempts)`, next_attempt_at: now };
      break;
    }
  }
  await ctx.db.tx((trx) => trx.updateTable('alerts').set(patch).where('id', '=', id).where('state', '=', ALERT_STATES.pending).execute());
}

/** Many runs ending at once wake the loop once per this gap, not once per run. */
const WAKE_GAP_MS = 100;

/** The earliest moment a pending alert is due, or null when none is pending. */
async function nextDue(ctx: Ctx): Promise<number | null> {
  const row = await ctx.db.kysely.selectFrom('alerts').select((eb) => eb.fn.min('next_attempt_at').as('t')).where('state', '=', ALERT_STATES.pending).executeTakeFirst();
  return row?.t == null ? null : Number(row.t);
}

/**
 * The delivery loop. It sleeps until the earliest pending alert is due (at most `everyMs`, for alerts other
 * replicas enqueue), and is woken at once when this process enqueues one (`wake`).
 */
export class AlertDelivery {
  private readonly loop: Loop;

  constructor(
    private readonly ctx: Ctx,
    private readonly settings: DeliverySettings,
    onError: (err: unknown) => void,
    private readonly everyMs = 1000,
  ) {
    this.loop = new Loop({ pass: () => this.pass(), everyMs, onError, wakeGapMs: WAKE_GAP_MS });
  }

  start(): void {
    this.loop.start();
  }

  /** Alerts may be due now (a run ended, a late check enqueued some). Wakes coalesce: at most one pass per WAKE_GAP_MS. */
  wake(): void {
    this.loop.wake();
  }

  /** One pass; returns how long to sleep before the next. */
  private async pass(): Promise<number> {
    if ((await deliverDue(this.ctx, this.settings)) > 0) return 0;
    const next = await nextDue(this.ctx);
    if (next === null) return this.everyMs;
    return Math.max(0, Math.min(this.everyMs, next - this.ctx.now()));
  }

  /** Stops taking alerts; waits for the pass in flight and its POSTs (each bounded by its timeout). */
  async stop(): Promise<void> {
    await this.loop.stop();
  }
}
