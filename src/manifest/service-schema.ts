/**
 * `service`: a job that serves HTTP on a port until it is stopped, reachable through the server at
 * `/services/<project>/<job>/` (docs/services.md). Part of the one manifest definition (schema.ts imports
 * it), kept in its own file because it is one concern.
 */
import * as z from 'zod';
import { documented, durationValue, expecting } from './fields.js';

export const SERVICE_DEFAULTS = { health: '/' } as const;

/** A health path: absolute, no `..`, no scheme or host, no spaces; a query is allowed. */
export const HEALTH_PATH = /^\/(?!.*\/\.\.(?:\/|$|\?))[^\s#\\]*$/;

export const serviceSpec = () =>
  documented(
    z.strictObject({
      port: documented(expecting(z.number().int().min(1).max(65535), 'a TCP port, an integer from 1 to 65535'), {
        description: 'The port the job listens on, on 127.0.0.1 of the machine that runs it; only its worker connects to it.',
      }),
      health: documented(expecting(z.string().regex(HEALTH_PATH), 'an absolute path such as "/health" (no "..")'), {
        description: 'A path on the service that answers 2xx or 3xx once it is ready; the run is `up` from then on.',
        default: SERVICE_DEFAULTS.health,
      }).optional(),
      idle_stop: documented(durationValue({ positive: true }), {
        description: 'Stop the service (the run ends `cancelled`, reason `idle`) when nobody used it for this long, e.g. `2h`.',
        defaultText: 'never',
      }).optional(),
    }),
    {
      description:
        'Makes the job a service: it runs until cancelled (no `timeout` unless the job sets one), its retry policy restarts it when it exits, and the server relays `/services/<project>/<job>/` to its port over its worker\'s own connection; see docs/services.md.',
    },
  ).optional();

export type ServiceDocument = NonNullable<z.infer<ReturnType<typeof serviceSpec>>>;
