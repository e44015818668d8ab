/**
 * `notify`: alert rules of a job (and of `defaults`). Part of the one manifest definition (schema.ts imports
 * it), kept in its own file because it is one concern: when to tell someone, and where.
 */
import * as z from 'zod';
import { documented, durationValue, expecting, isRecord, report } from './fields.js';
import { listNames, show } from './problems.js';
import { NOTIFY_FORMATS, NOTIFY_ON } from '../model/job.js';

export const NOTIFY_DEFAULT_FORMAT = 'json';

/** An http(s) URL; nothing else can be POSTed to. */
function webhookValue(): z.ZodString {
  const checked = z.string().superRefine((v, ctx) => {
    let url: URL;
    try {
      url = new URL(v);
    } catch {
      report(ctx, 'invalid_url', `expected an http or https URL such as "https://hooks.example.com/kairos", got ${show(v)}`);
      return;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') report(ctx, 'invalid_url', `expected an http or https URL, got the scheme "${url.protocol.replace(/:$/, '')}"`);
  });
  return expecting(checked, 'an http or https URL', 'invalid_url');
}

const threshold = expecting(z.number(), 'a number');

/** `late` only with `on: late`, `metric` only with `on: metric`, and each with something to check. */
function checkRule(rule: unknown, ctx: z.core.$RefinementCtx): void {
  if (!isRecord(rule) || typeof rule.on !== 'string') return;
  if (rule.on === 'late') {
    if (rule.late === undefined) report(ctx, 'missing_key', 'a rule with `on: late` needs `late: {start: DURATION, finish: DURATION}` (one or both)');
    else if (isRecord(rule.late) && rule.late.start === undefined && rule.late.finish === undefined) {
      report(ctx, 'missing_key', 'expected `start` or `finish` (or both): how long after its tick a run must have started or finished', ['late']);
    }
  } else if (rule.late !== undefined) {
    report(ctx, 'invalid_value', `\`late\` only applies to \`on: late\`, and this rule is \`on: ${String(rule.on)}\``, ['late'], 'key');
  }
  if (rule.on === 'metric') {
    if (rule.metric === undefined) report(ctx, 'missing_key', 'a rule with `on: metric` needs `metric: {name: NAME, above: NUMBER}` (or `below`)');
    else if (isRecord(rule.metric) && rule.metric.above === undefined && rule.metric.below === undefined) {
      report(ctx, 'missing_key', 'expected `above` or `below` (or both): the threshold the metric must cross', ['metric']);
    }
  } else if (rule.metric !== undefined) {
    report(ctx, 'invalid_value', `\`metric\` only applies to \`on: metric\`, and this rule is \`on: ${String(rule.on)}\``, ['metric'], 'key');
  }
}

const notifyRule = expecting(
  z
    .strictObject({
      on: documented(expecting(z.enum(NOTIFY_ON), `one of ${listNames(NOTIFY_ON)}`), {
        description:
          'When: `failure` (a run ends failed or timed out, after its retries), `recovery` (a run succeeds after one or more failed runs of the job), `late` (a scheduled run has not started or finished in time, see `late`), `metric` (a run reports a metric crossing a threshold, see `metric`).',
      }),
      webhook: documented(webhookValue(), {
        description: 'URL the alert is POSTed to. Internal addresses (loopback, private, link-local) are refused unless the server allows them (`--allow-webhook-hosts`).',
      }),
      format: documented(expecting(z.enum(NOTIFY_FORMATS), `one of ${listNames(NOTIFY_FORMATS)}`), {
        description: 'Body of the POST: `json` (Kairos\' own fields, see docs/alerts.md) or `slack` (`{text, blocks}`, for Slack-compatible incoming webhooks).',
        default: NOTIFY_DEFAULT_FORMAT,
      }).optional(),
      late: documented(
        z.strictObject({
          start: documented(durationValue({ positive: true }), { description: 'Alert when a run is still queued this long after its tick.' }).optional(),
          finish: documented(durationValue({ positive: true }), { description: 'Alert when a run has not ended this long after its tick.' }).optional(),
        }),
        { description: 'For `on: late`: deadlines after the tick (the run\'s scheduled instant). Only scheduled runs are checked.' },
      ).optional(),
      metric: documented(
        z.strictObject({
          name: documented(expecting(z.string().min(1), 'a metric name'), { description: 'Name of a metric the job writes to `KAIROS_OUTPUT`.' }),
          above: documented(threshold, { description: 'Alert when a value is greater than this.' }).optional(),
          below: documented(threshold, { description: 'Alert when a value is less than this.' }).optional(),
        }),
        { description: 'For `on: metric`: the metric and its threshold(s). One alert per run and rule, at the first crossing value.' },
      ).optional(),
    })
    .superRefine(checkRule, { when: (payload) => isRecord(payload.value) }),
  'a notify rule: a mapping with `on` and `webhook`',
);

export const notifyRules = (defaultText?: string) =>
  documented(expecting(z.array(notifyRule), 'a list of notify rules, each a mapping with `on` and `webhook`'), {
    description: 'Alerts: webhooks told when runs fail, recover, are late, or report a metric beyond a threshold. See docs/alerts.md.',
    ...(defaultText === undefined ? {} : { defaultText }),
  }).optional();

export type NotifyRuleDocument = z.infer<typeof notifyRule>;
