/**
 * Dispatch: handing attempts to workers under leases, and everything a worker reports back. One file per
 * concern: registration, claims, leases (the one lease check), reports, the reaper; `end.ts` is the one path
 * by which an ended attempt moves its run on.
 */
export { registerWorker, unregisterWorker, workerLiveAttempts } from './registration.js';
export { claim, type ClaimRequest } from './claims.js';
export { heartbeat } from './leases.js';
export { markStarted, appendLogs, appendLogsMany, finish, abandon } from './reports.js';
export { reapExpired } from './reaper.js';
export { expireUnstarted, waitingReasons } from './placement.js';
