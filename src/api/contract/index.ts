/**
 * The API contract: every route's inputs and answers as zod schemas, by resource. The server validates with
 * it, the OpenAPI document is generated from it, and the client and the dashboard are typed by it.
 */
import type { RouteSpec } from './common.js';
import { accessRoutes } from './access.js';
import { artifactRoutes } from './artifacts.js';
import { deploymentRoutes } from './deployments.js';
import { opsRoutes } from './ops.js';
import { packageRoutes } from './packages.js';
import { runRoutes } from './runs.js';
import { scheduleRoutes } from './schedules.js';
import { snapshotRoutes } from './snapshots.js';
import { workerRoutes } from './workers.js';
import { networkRoutes } from './network.js';
import { pipelineRoutes } from './pipelines.js';
import { serviceRoutes } from './services.js';

export * from './common.js';
export * from './access.js';
export * from './artifacts.js';
export * from './deployments.js';
export * from './ops.js';
export * from './packages.js';
export * from './runs.js';
export * from './schedules.js';
export * from './snapshots.js';
export * from './workers.js';
export * from './network.js';
export * from './pipelines.js';
export * from './services.js';

export const API = {
  runs: runRoutes,
  schedules: scheduleRoutes,
  deployments: deploymentRoutes,
  access: accessRoutes,
  ops: opsRoutes,
  workers: workerRoutes,
  network: networkRoutes,
  snapshots: snapshotRoutes,
  artifacts: artifactRoutes,
  packages: packageRoutes,
  pipelines: pipelineRoutes,
  services: serviceRoutes,
} as const;

/** Every route of the API, in the order of the document. */
export const ALL_ROUTES: readonly RouteSpec[] = Object.values(API).flatMap((group) => Object.values(group) as RouteSpec[]);
