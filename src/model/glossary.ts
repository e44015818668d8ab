/**
 * Terminology. One word for one thing, everywhere in Kairos:
 *
 * - project:    a directory with a `kairos.yaml`; its `project:` key names it.
 * - deployment: an immutable, numbered version of a project: a snapshot of its files (the bundle, addressed by
 *               its content hash) and its compiled manifest. One deployment per project is active.
 * - job:        a named command in the manifest, with its parameters, schedule and policies.
 * - schedule:   a job's cron expression in a time zone, with its catch-up and concurrency policies.
 * - tick:       one instant at which a schedule is due. Each tick is recorded once in the ledger, with its
 *               outcome: fired (with the run it created), skipped (and why) or late.
 * - run:        one request to execute a job: from a tick, by hand, a backfill or a rerun. It has a state
 *               (see ./run-state.ts) and one or more attempts.
 * - attempt:    one execution of a run's command in a process, with its own logs, exit code and reason.
 * - lease:      a worker's time-limited claim on an attempt, renewed by heartbeats; every report from the
 *               worker carries the lease token, and a stale token is refused.
 * - worker:     a process that claims attempts from the control plane and executes them in a place.
 * - pool:       a named set of capacity that runs are routed to, with an optional concurrency limit.
 * - place:      where an attempt's process actually runs (a local process; later Slurm or Kubernetes).
 * - token:      a secret that identifies an API caller, with a scope and optionally one project; stored only
 *               as a hash. The server's own `--token` is the bootstrap token (admin, never stored).
 * - scope:      what a token may do: read < run < deploy < admin, and worker beside them (./scopes.ts).
 * - rollback:   making an earlier deployment of a project the active one again.
 * - alert:      one notice of one kind (failure, recovery, late start/finish, metric) about one run, for one
 *               `notify` rule, kept in an outbox with its delivery state until its webhook accepted it.
 */
export {};
