/** The alert delivery options `kairos up` and `kairos server` share, with their environment variables. */
import { DEFAULT_DELIVERY, parseAllowList } from '../model/alerts.js';
import { parseDuration } from '../model/duration.js';
import type { AlertOptions } from '../control/webhooks.js';
import { stringOption } from './args.js';
import type { OptionSpec, Parsed } from './args.js';
import { UsageError } from './output.js';

export const ALERT_OPTIONS = {
  'public-url': { type: 'string' },
  'allow-webhook-hosts': { type: 'string' },
  'webhook-retry-delay': { type: 'string' },
} as const satisfies OptionSpec;

export const ALERT_USAGE = '[--public-url URL] [--allow-webhook-hosts LIST] [--webhook-retry-delay DURATION]';

/** What the options (or KAIROS_PUBLIC_URL, KAIROS_ALLOW_WEBHOOK_HOSTS, KAIROS_WEBHOOK_RETRY_DELAY) ask for; checked before anything starts. */
export function alertOptions(p: Parsed, env: NodeJS.ProcessEnv): AlertOptions {
  const publicUrl = stringOption(p.values['public-url']) ?? env.KAIROS_PUBLIC_URL ?? null;
  if (publicUrl !== null && !/^https?:\/\/[^/]+/.test(publicUrl)) throw new UsageError(`--public-url must be an http(s) URL such as https://kairos.example.com, got "${publicUrl}"`);
  const allowHosts = parseAllowList(stringOption(p.values['allow-webhook-hosts']) ?? env.KAIROS_ALLOW_WEBHOOK_HOSTS);
  const delayText = stringOption(p.values['webhook-retry-delay']) ?? env.KAIROS_WEBHOOK_RETRY_DELAY;
  let baseDelayMs = DEFAULT_DELIVERY.baseDelayMs;
  if (delayText !== undefined) {
    const ms = parseDuration(delayText);
    if (ms === null || ms < 10 || ms > 3_600_000) throw new UsageError(`--webhook-retry-delay must be a duration from 10ms to 1h, such as 1s; got "${delayText}"`);
    baseDelayMs = ms;
  }
  return { publicUrl: publicUrl?.replace(/\/+$/, '') ?? null, allowHosts, baseDelayMs };
}
