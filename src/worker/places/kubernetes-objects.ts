/**
 * The Kubernetes place's pure half: the Job and Secret it creates for an attempt, the labels it finds them by,
 * resource quantities, log timestamps, and how a pod's final state maps onto the place vocabulary
 * (./place.ts). No I/O here: ./kubernetes.ts does the talking.
 */
import { createHash } from 'node:crypto';
import { constants as osConstants } from 'node:os';
import type { V1Job, V1Node, V1Pod, V1Secret } from '@kubernetes/client-node';
import type { RunCommand } from '../../model/job.js';
import type { PlaceAttemptSpec, PlaceEnd, PlaceEndReason } from './place.js';

/** The labels every object of the place carries. */
export const LABEL = {
  managedBy: 'app.kubernetes.io/managed-by',
  worker: 'kairos.dev/worker',
  attempt: 'kairos.dev/attempt',
  project: 'kairos.dev/project',
  job: 'kairos.dev/job',
  run: 'kairos.dev/run',
  attemptNumber: 'kairos.dev/attempt-number',
} as const;
export const ANNOTATION = { worker: 'kairos.dev/worker-id', timeLimitMs: 'kairos.dev/time-limit-ms', graceMs: 'kairos.dev/grace-ms' } as const;
/** The one container of an attempt's pod. */
export const CONTAINER = 'main';

/** What the place adds to every attempt's objects. */
export interface JobSettings {
  readonly namespace: string;
  readonly workerId: string;
  /** The image of attempts whose job has no container environment; null = such attempts are refused. */
  readonly defaultImage: string | null;
  readonly serviceAccount: string | null;
  /** The directory of the worker's data (bundles, working directories, outputs), at the same path in the pod. */
  readonly sharedDir: string;
  /** How the shared directory reaches the pod: a PersistentVolumeClaim, or the node's own path. */
  readonly volume: { readonly claim: string } | { readonly hostPath: true };
}

/** A DNS-1123 label: what a Job and Secret name must be. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function isKubeName(name: string): boolean {
  return DNS_LABEL.test(name);
}

/** The worker's label value: a hash of its id (ids hold `:`, which labels do not allow). */
export function workerLabel(workerId: string): string {
  return createHash('sha256').update(workerId).digest('hex').slice(0, 16);
}

/** A value as a label value: as is when valid, else its safe characters and a short hash. */
export function labelValue(v: string): string {
  if (LABEL_VALUE.test(v)) return v;
  const safe = v.replace(/[^-A-Za-z0-9_.]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 50).replace(/[^A-Za-z0-9]+$/, '');
  return `${safe ? `${safe}-` : ''}${createHash('sha256').update(v).digest('hex').slice(0, 8)}`;
}

export function ownSelector(workerId: string): string {
  return `${LABEL.managedBy}=kairos,${LABEL.worker}=${workerLabel(workerId)}`;
}

export function attemptSelector(name: string): string {
  return `${LABEL.managedBy}=kairos,${LABEL.attempt}=${name}`;
}

/** Kubernetes quantities ("3500m", "16Gi", "1e9", "129M") as numbers (cores, bytes, counts). */
export function parseQuantity(q: string | number | undefined | null): number {
  if (q === undefined || q === null) return 0;
  if (typeof q === 'number') return q;
  const m = /^([+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/.exec(q.trim());
  if (!m) return 0;
  const mult: Record<string, number> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  return Number(m[1]) * (m[2] ? (mult[m[2]] ?? 1) : 1);
}

export function cpuQuantity(cores: number): string {
  return `${Math.max(1, Math.round(cores * 1000))}m`;
}

/** What one attempt can get: the largest schedulable, ready node's allocatable. */
export function largestNode(nodes: readonly V1Node[]): { cpu: number; memoryBytes: number; gpu: number; nodes: number } {
  let cpu = 0;
  let memoryBytes = 0;
  let gpu = 0;
  let count = 0;
  for (const n of nodes) {
    if (n.spec?.unschedulable) continue;
    const ready = n.status?.conditions?.find((c) => c.type === 'Ready');
    if (ready && ready.status !== 'True') continue;
    const a = n.status?.allocatable ?? {};
    count++;
    cpu = Math.max(cpu, parseQuantity(a.cpu));
    memoryBytes = Math.max(memoryBytes, Math.floor(parseQuantity(a.memory)));
    gpu = Math.max(gpu, Math.floor(parseQuantity(a['nvidia.com/gpu'])));
  }
  return { cpu, memoryBytes, gpu, nodes: count };
}

function commandOf(c: RunCommand): string[] {
  return c.kind === 'shell' ? ['/bin/sh', '-c', c.script] : [...c.argv];
}

/** The job's variables that can be variables in the pod (the others are named, to be noted). */
export function secretData(env: Readonly<Record<string, string>>): { data: Record<string, string>; skipped: string[] } {
  const data: Record<string, string> = {};
  const skipped: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    if (ENV_NAME.test(k)) data[k] = Buffer.from(v, 'utf8').toString('base64');
    else skipped.push(k);
  }
  return { data, skipped };
}

function labelsOf(spec: PlaceAttemptSpec, s: JobSettings): Record<string, string> {
  const labels: Record<string, string> = { [LABEL.managedBy]: 'kairos', [LABEL.worker]: workerLabel(s.workerId), [LABEL.attempt]: spec.name };
  const from: [string, string | undefined][] = [
    [LABEL.project, spec.env.KAIROS_PROJECT],
    [LABEL.job, spec.env.KAIROS_JOB],
    [LABEL.run, spec.env.KAIROS_RUN_ID],
    [LABEL.attemptNumber, spec.env.KAIROS_ATTEMPT],
  ];
  for (const [k, v] of from) if (v) labels[k] = labelValue(v);
  return labels;
}

/** The Secret holding every variable of the attempt (secrets included): the pod reads it with envFrom. */
export function attemptSecret(spec: PlaceAttemptSpec, s: JobSettings): { secret: V1Secret; skipped: string[] } {
  const { data, skipped } = secretData(spec.env);
  return {
    secret: { apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: spec.name, namespace: s.namespace, labels: labelsOf(spec, s) }, data },
    skipped,
  };
}

/** The image an attempt runs: its job's container environment, else the place's default; null = none. */
export function imageOf(spec: PlaceAttemptSpec, s: JobSettings): string | null {
  return spec.image?.ref ?? s.defaultImage;
}

/**
 * The Job of an attempt: one pod, never retried by Kubernetes (Kairos retries), its variables from the
 * attempt's Secret only, the shared directory mounted at the worker's path, limits equal to requests.
 */
export function attemptJob(spec: PlaceAttemptSpec, s: JobSettings, image: string): V1Job {
  const labels = labelsOf(spec, s);
  const r = spec.resources;
  const amounts: Record<string, string> = {};
  if (r.cpu !== undefined && r.cpu > 0) amounts.cpu = cpuQuantity(r.cpu);
  if (r.memoryBytes !== undefined && r.memoryBytes > 0) amounts.memory = String(Math.ceil(r.memoryBytes));
  if (r.gpu !== undefined && r.gpu > 0) amounts['nvidia.com/gpu'] = String(Math.ceil(r.gpu));
  const graceS = Math.max(0, Math.ceil(spec.graceMs / 1000));
  const volume = 'claim' in s.volume ? { persistentVolumeClaim: { claimName: s.volume.claim } } : { hostPath: { path: s.sharedDir, type: 'Directory' } };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: spec.name,
      namespace: s.namespace,
      labels,
      annotations: { [ANNOTATION.worker]: s.workerId, [ANNOTATION.timeLimitMs]: String(spec.timeLimitMs ?? ''), [ANNOTATION.graceMs]: String(spec.graceMs) },
    },
    spec: {
      backoffLimit: 0,
      // A backstop that holds without the worker (the place's own timer ends it at the exact limit first);
      // it counts from the Job's start, so time spent pulling the image counts too.
      ...(spec.timeLimitMs !== null ? { activeDeadlineSeconds: Math.max(1, Math.ceil((spec.timeLimitMs + spec.graceMs) / 1000)) } : {}),
      // The place deletes the Job once it has read the end; this only clears what a vanished worker left.
      ttlSecondsAfterFinished: 7 * 24 * 3600,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: graceS,
          ...(s.serviceAccount ? { serviceAccountName: s.serviceAccount } : { automountServiceAccountToken: false }),
          containers: [
            {
              name: CONTAINER,
              image,
              command: commandOf(spec.command),
              workingDir: spec.cwd,
              envFrom: [{ secretRef: { name: spec.name } }],
              resources: { requests: { ...amounts }, limits: { ...amounts } },
              volumeMounts: [{ name: 'kairos-shared', mountPath: s.sharedDir }],
            },
          ],
          volumes: [{ name: 'kairos-shared', ...volume }],
        },
      },
    },
  };
}

const SIGNALS = new Map<number, string>(Object.entries(osConstants.signals).map(([name, n]) => [n, name]));

/** Why a pod that has not started cannot start, when Kubernetes says so; null while it may still start. */
export function pendingTrouble(pod: V1Pod): { kind: 'image' | 'unschedulable' | 'config'; detail: string; final: boolean } | null {
  const w = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.waiting;
  if (w?.reason && /^(ErrImagePull|ImagePullBackOff|InvalidImageName|ErrImageNeverPull|RegistryUnavailable)$/.test(w.reason)) {
    return { kind: 'image', detail: `image ${pod.spec?.containers.find((c) => c.name === CONTAINER)?.image ?? '?'} cannot be pulled (${w.reason}${w.message ? `: ${w.message}` : ''})`, final: w.reason === 'InvalidImageName' || w.reason === 'ErrImageNeverPull' };
  }
  if (w?.reason === 'CreateContainerConfigError' || w?.reason === 'CreateContainerError') {
    return { kind: 'config', detail: `the container cannot be created (${w.reason}${w.message ? `: ${w.message}` : ''})`, final: false };
  }
  const sched = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
  if (sched?.status === 'False' && sched.reason === 'Unschedulable') return { kind: 'unschedulable', detail: `unschedulable: ${sched.message ?? 'no node fits'}`, final: false };
  return null;
}

export function podTerminal(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

/** When the container started, if it did. */
export function containerStartedAt(pod: V1Pod): Date | null {
  const st = pod.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state;
  const at = st?.running?.startedAt ?? st?.terminated?.startedAt;
  if (at) return new Date(at);
  return null;
}

/**
 * How an attempt ended, from its pod's last state (null: deleted before anything was seen), its Job (null:
 * gone) and why the place stopped it (null: it did not).
 */
export function endOf(pod: V1Pod | null, job: V1Job | null, stoppedAs: 'cancelled' | 'time_limit' | 'lost' | null): PlaceEnd {
  const term = pod?.status?.containerStatuses?.find((c) => c.name === CONTAINER)?.state?.terminated ?? null;
  const exitCode = term ? term.exitCode : null;
  const signal = term?.signal ? (SIGNALS.get(term.signal) ?? null) : exitCode !== null && exitCode > 128 && exitCode < 128 + 65 ? (SIGNALS.get(exitCode - 128) ?? null) : null;
  const at = pod?.spec?.nodeName ? ` on node ${pod.spec.nodeName}` : '';
  const podName = pod?.metadata?.name ?? job?.metadata?.name ?? '?';
  const end = (reason: PlaceEndReason, detail: string, code = exitCode, sig = signal): PlaceEnd => ({ reason, exitCode: code, signal: sig, detail });
  // The kernel's word first: an OOM kill is one whoever stopped the attempt.
  if (term?.reason === 'OOMKilled') return end('oom', `pod ${podName} OOMKilled${at} (memory limit ${pod?.spec?.containers.find((c) => c.name === CONTAINER)?.resources?.limits?.memory ?? 'none'})`, exitCode ?? 137, signal ?? 'SIGKILL');
  if (stoppedAs !== null) return end(stoppedAs, stoppedAs === 'time_limit' ? `pod ${podName} stopped at its time limit` : `pod ${podName} ${stoppedAs === 'cancelled' ? 'cancelled' : 'ended'}: Job deleted`);
  const failed = job?.status?.conditions?.find((c) => (c.type === 'Failed' || c.type === 'FailureTarget') && c.status === 'True');
  if (failed?.reason === 'DeadlineExceeded' || pod?.status?.reason === 'DeadlineExceeded') return end('time_limit', `job ${job?.metadata?.name ?? podName} DeadlineExceeded: ${failed?.message ?? 'past activeDeadlineSeconds'}`);
  const disruption = pod?.status?.conditions?.find((c) => c.type === 'DisruptionTarget' && c.status === 'True');
  if (pod?.status?.reason === 'Evicted') return end('preempted', `pod ${podName} evicted${at}: ${pod.status.message ?? ''}`.trim());
  if (disruption) {
    const why = `pod ${podName} ${disruption.reason ?? 'disrupted'}${at}${disruption.message ? `: ${disruption.message}` : ''}`;
    if (disruption.reason === 'DeletionByTaintManager' || disruption.reason === 'DeletionByPodGC') return end('node_failure', why);
    return end('preempted', why);
  }
  if (pod?.status?.reason === 'NodeLost' || pod?.status?.reason === 'UnexpectedAdmissionError') return end('node_failure', `pod ${podName} ${pod.status.reason}${at}`);
  if (term) {
    if (term.reason === 'StartError' || term.reason === 'ContainerCannotRun') return end('exit_code', `pod ${podName} could not start its command: ${term.message ?? term.reason}`, exitCode && exitCode !== 0 ? exitCode : 128, null);
    if (signal !== null) return end('signal', `pod ${podName} killed by ${signal}${at}`);
    return end('exit_code', `pod ${podName} exited ${exitCode}${at}`);
  }
  if (!job) return end('lost', `job ${podName} deleted by someone else`, null, null);
  return end('lost', `pod ${podName} gone with no exit status${failed ? ` (${failed.reason ?? 'failed'}: ${failed.message ?? ''})` : ''}`, null, null);
}

/** A log timestamp (RFC 3339, fractions of any length, trailing zeros trimmed) as a key that sorts as text. */
export function timestampKey(ts: string): string | null {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z$/.exec(ts);
  if (!m) return null;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}`;
}

/** A key back to a `sinceTime`: whole seconds (the API takes no fractions there), so the overlap is read again. */
export function sinceTimeOf(key: string): string {
  return `${key.slice(0, 19)}Z`;
}
