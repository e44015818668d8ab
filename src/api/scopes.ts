/**
 * The one table of what each API route needs. A request is matched against it by method and path (first
 * match wins); a route missing here needs `admin`, so a route added without a line is closed, not open.
 * test/unit/scopes.test.ts checks that every registered route has a line.
 *
 * Adding a route: one line here, e.g. `['PUT', '/api/v1/secrets/:project/:name', 'deploy'],`.
 */
import type { Need } from '../model/scopes.js';

export type RouteScope = readonly [method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH', path: string, need: Need];

export const ROUTE_SCOPES: readonly RouteScope[] = [
  ['GET', '/api/v1/health', 'any'],
  ['GET', '/api/v1/openapi.json', 'any'],
  ['GET', '/api/v1/whoami', 'any'],

  ['GET', '/api/v1/runs', 'read'],
  ['GET', '/api/v1/runs/:id', 'read'],
  ['GET', '/api/v1/runs/:id/attempts', 'read'],
  ['GET', '/api/v1/runs/:id/outputs', 'read'],
  ['GET', '/api/v1/runs/:id/logs', 'read'],
  ['GET', '/api/v1/runs/:id/logs/stream', 'read'],
  ['GET', '/api/v1/runs/:id/logs/text', 'read'],
  ['GET', '/api/v1/runs/:id/artifacts', 'read'],
  ['GET', '/api/v1/runs/:id/artifacts/:path{.+}', 'read'],
  ['GET', '/api/v1/schedules', 'read'],
  ['GET', '/api/v1/schedules/:project/:job/ticks', 'read'],
  ['GET', '/api/v1/deployments', 'read'],
  ['GET', '/api/v1/deployments/:project/active', 'read'],
  ['GET', '/api/v1/jobs', 'read'],
  ['GET', '/api/v1/workers', 'read'],
  ['GET', '/api/v1/alerts', 'read'],
  ['GET', '/api/v1/jobs/:project/:job', 'read'],
  ['GET', '/api/v1/jobs/:project/:job/metrics', 'read'],
  ['GET', '/api/v1/deployments/:id/diff', 'read'],
  ['GET', '/api/v1/snapshots', 'read'],
  ['GET', '/api/v1/runs/:id/inputs', 'read'],
  ['GET', '/metrics', 'read'],
  ['GET', '/api/v1/packages', 'read'],
  ['GET', '/api/v1/packages/:name', 'read'],
  ['GET', '/api/v1/pipelines', 'read'],
  ['GET', '/api/v1/pipeline-runs', 'read'],
  ['GET', '/api/v1/pipeline-runs/:id', 'read'],

  ['GET', '/api/v1/services', 'read'],

  ['POST', '/api/v1/runs', 'run'],
  ['POST', '/api/v1/services/:project/:job/session', 'run'],
  ['POST', '/api/v1/runs/:id/cancel', 'run'],
  ['POST', '/api/v1/runs/:id/rerun', 'run'],
  ['POST', '/api/v1/schedules/:project/:job/backfill', 'run'],
  ['POST', '/api/v1/schedules/:project/:job/pause', 'run'],
  ['POST', '/api/v1/schedules/:project/:job/resume', 'run'],
  ['POST', '/api/v1/pipelines/:project/:pipeline/runs', 'run'],
  ['POST', '/api/v1/pipelines/:project/:pipeline/backfill', 'run'],
  ['POST', '/api/v1/pipeline-runs/:id/cancel', 'run'],
  ['POST', '/api/v1/pipeline-runs/:id/rerun', 'run'],

  ['POST', '/api/v1/deployments', 'deploy'],
  ['POST', '/api/v1/deployments/:project/:version/activate', 'deploy'],
  ['GET', '/api/v1/secrets', 'deploy'],
  ['GET', '/api/v1/secrets/:project', 'deploy'],
  ['PUT', '/api/v1/secrets/:project/:name', 'deploy'],
  ['POST', '/api/v1/secrets/:project/:name', 'deploy'],
  ['DELETE', '/api/v1/secrets/:project/:name', 'deploy'],

  ['POST', '/api/v1/blobs/missing', 'deploy'],
  ['POST', '/api/v1/blobs/:hash', 'deploy'],
  ['POST', '/api/v1/snapshots/:name', 'deploy'],
  ['POST', '/api/v1/packages/:name/:version/yank', 'publish'],
  ['POST', '/api/v1/packages/:name/:version/unyank', 'publish'],
  ['DELETE', '/api/v1/packages/:name/:version', 'publish'],

  ['GET', '/api/v1/tokens', 'admin'],
  ['POST', '/api/v1/tokens', 'admin'],
  ['DELETE', '/api/v1/tokens/:name', 'admin'],

  ['POST', '/api/v1/workers', 'worker'],
  ['POST', '/api/v1/workers/:id/recover', 'worker'],
  ['POST', '/api/v1/workers/:id/claim', 'worker'],
  ['POST', '/api/v1/workers/:id/heartbeat', 'worker'],
  ['POST', '/api/v1/workers/:id/stop', 'worker'],
  ['POST', '/api/v1/leases/started', 'worker'],
  ['POST', '/api/v1/leases/logs', 'worker'],
  ['POST', '/api/v1/leases/logs-many', 'worker'],
  ['POST', '/api/v1/leases/finish', 'worker'],
  ['POST', '/api/v1/leases/abandon', 'worker'],
  ['GET', '/api/v1/bundles/:hash', 'worker'],
  ['POST', '/api/v1/workers/:id/network', 'worker'],
  ['GET', '/api/v1/doctor', 'read'],
  ['POST', '/api/v1/leases/inputs', 'worker'],
  ['GET', '/api/v1/blobs/:hash', 'worker'],
  ['POST', '/api/v1/leases/artifacts', 'worker'],
  ['POST', '/api/v1/leases/artifacts/:hash', 'worker'],
  // The service relay's tunnel (a WebSocket, src/api/services.ts, which checks the worker scope itself).
  ['GET', '/api/v1/leases/relay', 'worker'],
];

const compiled = ROUTE_SCOPES.map(([method, path, need]) => ({
  method,
  need,
  re: new RegExp('^' + path.split('/').map((seg) => (seg.startsWith(':') ? (seg.endsWith('{.+}') ? '.+' : '[^/]+') : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('/') + '/?$'),
}));

/** The scope a request needs (HEAD is a GET). Unlisted routes need `admin`. */
export function requiredScope(method: string, path: string): Need {
  const m = method === 'HEAD' ? 'GET' : method;
  for (const r of compiled) if (r.method === m && r.re.test(path)) return r.need;
  return 'admin';
}
