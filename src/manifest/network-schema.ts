/**
 * `network`: the endpoints a job needs (and `defaults.network`), checked by its worker before each attempt.
 * Part of the one manifest definition (schema.ts imports it), kept in its own file because it is one concern.
 */
import * as z from 'zod';
import { NETWORK_ON_FAILURE, NO_NETWORK, parseEndpoint } from '../model/network.js';
import { documented, durationValue, expecting, report } from './fields.js';
import { listNames } from './problems.js';

export const NETWORK_DEFAULTS = { onFailure: NO_NETWORK.onFailure, timeout: '5s', maxWait: '10m' } as const;

function endpointValue(): z.ZodString {
  const checked = z.string().superRefine((v, ctx) => {
    const parsed = parseEndpoint(v);
    if (!parsed.ok) report(ctx, parsed.message.startsWith('credentials') ? 'credentials_in_url' : 'invalid_url', parsed.message);
  });
  return expecting(checked, 'an endpoint URL such as "postgres://db:5432", "https://s3.internal", "tcp://host:port" or "dns:name"', 'invalid_url');
}

export const networkSpec = (defaultText?: string) =>
  documented(
    z.strictObject({
      needs: documented(expecting(z.array(endpointValue()), 'a list of endpoint URLs'), {
        description:
          'Endpoints the job needs, each a URL: `postgres://db:5432`, `https://s3.internal`, `tcp://host:port`, `dns:name`, or any scheme with a well-known port (mysql, redis, mongodb, amqp, kafka, …). No credentials: give those as `secrets`. Before each attempt the worker checks them all in parallel (DNS, TCP connect, and for http(s) a TLS handshake and a HEAD). A job\'s needs add to those of `defaults`.',
      }).optional(),
      on_failure: documented(expecting(z.enum(NETWORK_ON_FAILURE), `one of ${listNames(NETWORK_ON_FAILURE)}`), {
        description:
          'When an endpoint fails its check: `fail` ends the attempt (reason `network_unreachable`, naming the endpoint; a retry prefers another worker), `wait` checks again with backoff up to `max_wait` (the run shows what it waits for), `warn` runs anyway and says so in the log.',
        default: NETWORK_DEFAULTS.onFailure,
      }).optional(),
      timeout: documented(durationValue({ positive: true }), {
        description: 'The one bound on a check of all the endpoints (they are checked in parallel); one still unanswered then is `timed_out`.',
        default: NETWORK_DEFAULTS.timeout,
      }).optional(),
      max_wait: documented(durationValue({ positive: true }), {
        description: 'With `on_failure: wait`: how long the checks are retried before the attempt fails.',
        default: NETWORK_DEFAULTS.maxWait,
      }).optional(),
    }),
    {
      description: 'What the job needs from the network, checked before each attempt; see docs/network.md.',
      ...(defaultText === undefined ? {} : { defaultText }),
    },
  ).optional();

export type NetworkDocument = NonNullable<z.infer<ReturnType<typeof networkSpec>>>;
