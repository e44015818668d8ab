/**
 * The Kubernetes place (docs/kubernetes.md): each attempt is one Job named placeAttemptName(runId, attempt),
 * made with the official client (@kubernetes/client-node) in the worker's namespace.
 *
 * - The attempt's variables (secrets included) go into a Secret of the same name, read by the pod with
 *   `envFrom`: none is a literal in the pod spec. The Secret is owned by the Job (deleted with it) and deleted
 *   by the place with the attempt.
 * - The attempt's files (bundle, working directory, inputs, KAIROS_OUTPUT, KAIROS_ARTIFACTS) live under the
 *   worker's shared directory, mounted into the pod at the same path (a ReadWriteMany claim, or a host path).
 * - The pod is followed with a watch that lists again and goes on from the new resourceVersion after
 *   `410 Gone`; its log is followed (./kubernetes-log.ts) and read again after a cut without gap or duplicate.
 * - How it ended comes from the pod and the Job (./kubernetes-objects.ts endOf): OOMKilled, DeadlineExceeded,
 *   eviction, node loss; an image that cannot be pulled or a pod no node can take ends it `lost` after a bound.
 * - Cancel and the time limit delete the Job with propagationPolicy Foreground (TERM, the grace, KILL).
 * - On restart, live() lists this worker's Jobs by label; the worker adopts those it still holds and ends the
 *   others (orphans).
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { isAbsolute, join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import { BatchV1Api, CoreV1Api, KubeConfig, Watch, type V1Job, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { LogFollower, type LogPosition } from './kubernetes-log.js';
import {
  ANNOTATION, attemptJob, attemptSecret, attemptSelector, containerStartedAt, endOf, imageOf, isKubeName, largestNode, LABEL, ownSelector,
  pendingTrouble, podTerminal, workerLabel, type JobSettings,
} from './kubernetes-objects.js';
import { parsePlaceAttemptName, type Place, type PlaceAttempt, type PlaceAttemptSpec, type PlaceEnd, type PlaceOffer, type PlaceOutput, type PlaceStarted } from './place.js';

export interface KubernetesPlaceOptions {
  /** A kubeconfig file; absent: KUBECONFIG, ~/.kube/config, or the pod's own service account. */
  readonly kubeconfig?: string | null;
  /** Use the service account of the pod the worker runs in. */
  readonly inCluster?: boolean;
  /** An already loaded configuration (tests). */
  readonly kubeConfig?: KubeConfig;
  /** Absent: the kubeconfig context's namespace, the pod's own, or `default`. */
  readonly namespace?: string | null;
  /** The service account of the attempts' pods; absent: none is mounted. */
  readonly serviceAccount?: string | null;
  /** The image of attempts whose job has no container environment; absent: such attempts are refused. */
  readonly image?: string | null;
  /** The directory holding the worker's data, mounted in every pod at the same path. */
  readonly sharedDir: string;
  /** The PersistentVolumeClaim that holds sharedDir in the pods; absent: sharedDir as a host path (one-node clusters). */
  readonly volumeClaim?: string | null;
  readonly workerId: string;
  /** Where the place keeps how far it read each log (for a restarted worker). */
  readonly dataDir: string;
  readonly slots: number;
  /** What to offer instead of the largest node's allocatable. */
  readonly cpu?: number;
  readonly memoryBytes?: number;
  readonly gpu?: number;
  /** How long a pod may stay unschedulable before the attempt is given up (default 10 min). */
  readonly pendingTimeoutMs?: number;
  /** How long an image may fail to pull before the attempt is given up (default 2 min). */
  readonly imagePullTimeoutMs?: number;
  /** How often the Job is read while no pod says anything (default 5 s). */
  readonly checkMs?: number;
}

type Why = 'cancelled' | 'time_limit' | 'lost';

/** The API's own words from a failed call (the client's ApiException holds the Status as JSON text). */
export function apiStatus(err: unknown): { code: number | null; message: string } {
  const e = err as { code?: unknown; body?: unknown; message?: unknown };
  const code = typeof e.code === 'number' ? e.code : null;
  let message = typeof e.message === 'string' ? e.message : String(err);
  try {
    const body = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as { message?: string } | undefined;
    if (body?.message) message = body.message;
  } catch {
    // not JSON
  }
  return { code, message };
}

const gone = (err: unknown) => apiStatus(err).code === 404;

class KubeAttempt implements PlaceAttempt {
  readonly started: Promise<PlaceStarted>;
  readonly ended: Promise<PlaceEnd>;
  private resolveStarted!: (s: PlaceStarted) => void;
  private rejectStarted!: (e: Error) => void;
  private resolveEnded!: (e: PlaceEnd) => void;
  private isStarted = false;
  private done = false;
  private finishing = false;
  stoppedAs: Why | null = null;
  private givenUp: string | null = null;
  private pod: V1Pod | null = null;
  private podGone = false;
  private rv: string | undefined;
  private watchCtl: AbortController | null = null;
  private log: LogFollower | null = null;
  private logDone: Promise<void> | null = null;
  private limitTimer: NodeJS.Timeout | null = null;
  private trouble: { kind: string; timer: NodeJS.Timeout; detail: string } | null = null;
  private checkTimer: NodeJS.Timeout | null = null;
  /** Checks that found the Job failed with no pod known (see `check`). */
  private failedChecks = 0;
  /** Watches started again after a cut, and lists after `410 Gone` (for people and tests). */
  rewatches = 0;
  relists = 0;

  constructor(
    private readonly place: KubernetesPlace,
    readonly name: string,
    private readonly output: PlaceOutput,
    private readonly timeLimitMs: number | null,
    private readonly graceMs: number,
    private readonly position: LogPosition | null,
  ) {
    this.started = new Promise<PlaceStarted>((res, rej) => {
      this.resolveStarted = res;
      this.rejectStarted = rej;
    });
    this.started.catch(() => {});
    this.ended = new Promise<PlaceEnd>((res) => (this.resolveEnded = res));
  }

  get logReconnects(): number {
    return this.log?.reconnects ?? 0;
  }

  begin(): void {
    void this.list();
    this.checkTimer = setInterval(() => void this.check(), this.place.checkMs);
  }

  /** Lists the attempt's pod, then watches from the list's resourceVersion. */
  private async list(): Promise<void> {
    if (this.done) return;
    try {
      const l = await this.place.core.listNamespacedPod({ namespace: this.place.namespace, labelSelector: attemptSelector(this.name) });
      for (const p of l.items) this.observe(p, false);
      if (!l.items.some((p) => p.metadata?.name === this.pod?.metadata?.name) && this.pod) this.observe(this.pod, true);
      this.rv = l.metadata?.resourceVersion;
      await this.watch();
    } catch {
      setTimeout(() => void this.list(), 1000).unref();
    }
  }

  private async watch(): Promise<void> {
    if (this.done || this.place.closed) return;
    let expired = false;
    const restart = (err: unknown) => {
      this.watchCtl = null;
      if (this.done || this.place.closed) return;
      if (expired) {
        // 410 Gone: the resourceVersion is too old; what happened since is read from a new list.
        this.relists++;
        void this.list();
      } else {
        this.rewatches++;
        setTimeout(() => void this.watch(), err ? 1000 : 0).unref();
      }
    };
    try {
      this.watchCtl = await new Watch(this.place.kc).watch(
        `/api/v1/namespaces/${this.place.namespace}/pods`,
        { labelSelector: attemptSelector(this.name), allowWatchBookmarks: true, ...(this.rv ? { resourceVersion: this.rv } : {}) },
        (type: string, obj: unknown) => {
          if (type === 'ERROR') {
            if ((obj as V1Status).code === 410) expired = true;
            return;
          }
          const o = obj as V1Pod;
          this.rv = o.metadata?.resourceVersion ?? this.rv;
          if (type === 'BOOKMARK') return;
          this.observe(o, type === 'DELETED');
        },
        (err: unknown) => restart(err),
      );
      if (this.done || this.place.closed) this.watchCtl?.abort();
    } catch (err) {
      restart(err);
    }
  }

  /** Reads the Job while no pod tells anything (a Job whose pod was never made, or deleted under us). */
  private async check(): Promise<void> {
    if (this.done || this.finishing) return;
    if (this.pod && !this.podGone) return;
    try {
      const job = await this.place.batch.readNamespacedJob({ name: this.name, namespace: this.place.namespace });
      const failed = job.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True');
      // A failed Job whose pod this has not heard of: the watch may still be bringing what became of the pod
      // (its ADDED, its disruption, its deletion), which says why it ended. Finished on the second such
      // check with a watch open (so what the watch had to tell was told), or after ten without one.
      if (failed && (!this.pod || this.podGone)) {
        this.failedChecks++;
        if (this.done || this.finishing) return;
        if ((this.failedChecks >= 2 && this.watchCtl) || this.failedChecks >= 10) void this.finish();
      }
    } catch (err) {
      if (gone(err)) void this.finish();
    }
  }

  private observe(pod: V1Pod, deleted: boolean): void {
    if (this.done) return;
    const podName = pod.metadata?.name;
    // A second pod of the same Job would be Kubernetes retrying: backoffLimit 0 prevents it; ignored.
    if (this.pod && this.pod.metadata?.name !== podName && !this.podGone) return;
    // Nothing comes back from deletion.
    if (this.podGone && this.pod?.metadata?.name === podName) return;
    this.pod = pod;
    if (deleted) this.podGone = true;
    const at = containerStartedAt(pod);
    if (at) this.markStarted(at, pod);
    const terminal = deleted || podTerminal(pod);
    if (!at && !terminal) this.watchTrouble(pod);
    else if (this.trouble) {
      clearTimeout(this.trouble.timer);
      this.trouble = null;
    }
    if (at && !this.log && podName) this.followLog(podName);
    if (terminal) void this.finish();
  }

  /** A pod that cannot start: said once, given up after the bound. */
  private watchTrouble(pod: V1Pod): void {
    const t = pendingTrouble(pod);
    if (!t) {
      if (this.trouble) clearTimeout(this.trouble.timer);
      this.trouble = null;
      return;
    }
    if (this.trouble?.detail !== t.detail) this.output.note?.(`kubernetes: ${t.detail}`);
    if (this.trouble?.kind === t.kind) {
      this.trouble.detail = t.detail;
      return;
    }
    if (this.trouble) clearTimeout(this.trouble.timer);
    const bound = t.final ? 0 : t.kind === 'unschedulable' ? this.place.pendingTimeoutMs : this.place.imagePullTimeoutMs;
    const timer = setTimeout(() => {
      const detail = this.trouble?.detail ?? t.detail;
      this.givenUp = `${detail}; given up after ${Math.round(bound / 1000)}s`;
      void this.stop('lost', 0);
    }, bound);
    timer.unref();
    this.trouble = { kind: t.kind, timer, detail: t.detail };
  }

  private markStarted(at: Date, pod: V1Pod): void {
    if (this.isStarted) return;
    this.isStarted = true;
    const startedAt = Math.min(Date.now(), at.getTime());
    this.resolveStarted({ startedAt, where: `kubernetes pod ${pod.metadata?.namespace ?? this.place.namespace}/${pod.metadata?.name ?? '?'}${pod.spec?.nodeName ? ` on node ${pod.spec.nodeName}` : ''}` });
    if (this.timeLimitMs !== null && !this.stoppedAs) {
      const left = Math.max(0, this.timeLimitMs - (Date.now() - startedAt));
      this.limitTimer = setTimeout(() => void this.cancel('time_limit'), left);
      this.limitTimer.unref();
    }
  }

  private followLog(podName: string): void {
    this.log = new LogFollower(
      {
        open: (since, follow) => this.place.openLog(podName, since, follow),
        over: () => this.containerOver(podName),
      },
      this.output,
      this.position,
      (p) => this.place.savePosition(this.name, p),
    );
    this.logDone = this.log.run();
  }

  private async containerOver(podName: string): Promise<boolean> {
    if (this.podGone || (this.pod && podTerminal(this.pod))) return true;
    try {
      const p = await this.place.core.readNamespacedPod({ name: podName, namespace: this.place.namespace });
      return podTerminal(p) || !!p.status?.containerStatuses?.find((c) => c.name === 'main')?.state?.terminated;
    } catch (err) {
      return gone(err);
    }
  }

  private async finish(): Promise<void> {
    if (this.finishing || this.done) return;
    this.finishing = true;
    // Everything the container wrote is given before its end.
    if (this.logDone) await this.logDone;
    let job: V1Job | null = null;
    try {
      job = await this.place.batch.readNamespacedJob({ name: this.name, namespace: this.place.namespace });
    } catch {
      job = null;
    }
    const end: PlaceEnd = this.givenUp !== null ? { reason: 'lost', exitCode: null, signal: null, detail: this.givenUp } : endOf(this.pod, job, this.stoppedAs);
    this.halt();
    if (!this.isStarted) {
      const at = this.pod ? containerStartedAt(this.pod) : null;
      if (at && this.pod) this.markStarted(at, this.pod);
      else this.rejectStarted(new Error(end.detail ?? 'the pod never started'));
    }
    await this.place.cleanup(this.name, this.stoppedAs !== null);
    this.done = true;
    this.place.forget(this);
    this.resolveEnded(end);
  }

  /** Stops following (the place closes, or the attempt is over); touches nothing in the cluster. */
  halt(): void {
    if (this.limitTimer) clearTimeout(this.limitTimer);
    if (this.trouble) clearTimeout(this.trouble.timer);
    if (this.checkTimer) clearInterval(this.checkTimer);
    this.watchCtl?.abort();
    this.watchCtl = null;
    if (this.place.closed) {
      this.log?.stop();
      this.done = true;
    }
  }

  private async stop(why: Why, graceMs: number): Promise<void> {
    if (this.done || this.finishing) return;
    const first = this.stoppedAs === null;
    this.stoppedAs ??= why;
    if (this.limitTimer) clearTimeout(this.limitTimer);
    if (first) await this.place.deleteJob(this.name);
    // A grace shorter than the pod's own: its pod is deleted with that grace.
    if (graceMs < this.graceMs || !first) {
      const podName = this.pod?.metadata?.name;
      if (podName) await this.place.deletePod(podName, Math.ceil(Math.max(0, graceMs) / 1000));
    }
    void this.check();
  }

  cancel(why: Why, graceMs?: number): Promise<void> {
    return this.stop(why, graceMs ?? this.graceMs);
  }
}

export class KubernetesPlace implements Place {
  readonly kind = 'kubernetes';
  /** live() lists only this worker's Jobs: what the worker does not adopt after a restart is an orphan. */
  readonly livePerWorker = true;
  readonly kc: KubeConfig;
  readonly core: CoreV1Api;
  readonly batch: BatchV1Api;
  readonly namespace: string;
  readonly settings: JobSettings;
  readonly pendingTimeoutMs: number;
  readonly imagePullTimeoutMs: number;
  readonly checkMs: number;
  closed = false;
  private readonly followers = new Map<string, KubeAttempt>();
  private offerCache: { at: number; offer: Promise<PlaceOffer> } | null = null;

  constructor(readonly o: KubernetesPlaceOptions) {
    if (o.kubeConfig) this.kc = o.kubeConfig;
    else {
      this.kc = new KubeConfig();
      if (o.inCluster) this.kc.loadFromCluster();
      else if (o.kubeconfig) this.kc.loadFromFile(o.kubeconfig);
      else this.kc.loadFromDefault();
    }
    if (!this.kc.getCurrentCluster()) throw new Error('no Kubernetes cluster configured (give --kubeconfig FILE, set KUBECONFIG, or run in a pod with --in-cluster)');
    this.namespace = o.namespace ?? this.kc.getContextObject(this.kc.getCurrentContext())?.namespace ?? ownNamespace() ?? 'default';
    this.core = this.kc.makeApiClient(CoreV1Api);
    this.batch = this.kc.makeApiClient(BatchV1Api);
    this.settings = {
      namespace: this.namespace,
      workerId: o.workerId,
      defaultImage: o.image ?? null,
      serviceAccount: o.serviceAccount ?? null,
      sharedDir: o.sharedDir,
      volume: o.volumeClaim ? { claim: o.volumeClaim } : { hostPath: true },
    };
    this.pendingTimeoutMs = o.pendingTimeoutMs ?? 10 * 60_000;
    this.imagePullTimeoutMs = o.imagePullTimeoutMs ?? 2 * 60_000;
    this.checkMs = o.checkMs ?? 5000;
    mkdirSync(join(o.dataDir, 'kubernetes'), { recursive: true, mode: 0o700 });
  }

  /** Read again at most every 30 s (placement asks often; nodes come and go). */
  offer(): Promise<PlaceOffer> {
    if (!this.offerCache || Date.now() - this.offerCache.at > 30_000) {
      const offer = this.measure();
      offer.catch(() => (this.offerCache = null));
      this.offerCache = { at: Date.now(), offer };
    }
    return this.offerCache.offer;
  }

  private async measure(): Promise<PlaceOffer> {
    const o = this.o;
    let nodes = { cpu: 0, memoryBytes: 0, gpu: 0, nodes: 1 };
    if (o.cpu === undefined || o.memoryBytes === undefined || o.gpu === undefined) {
      try {
        nodes = largestNode((await this.core.listNode({})).items);
      } catch (err) {
        throw new Error(`cannot list the cluster's nodes for what to offer (${apiStatus(err).message}): allow it (docs/kubernetes.md) or give --cpu, --memory and --gpu`);
      }
    }
    return { cpu: o.cpu ?? nodes.cpu, memoryBytes: o.memoryBytes ?? nodes.memoryBytes, gpu: o.gpu ?? nodes.gpu, maxTimeMs: null, slots: o.slots, nodes: nodes.nodes };
  }

  async start(spec: PlaceAttemptSpec): Promise<PlaceAttempt> {
    if (this.closed) throw new Error('the kubernetes place is closed');
    if (this.followers.has(spec.name)) throw new Error(`attempt ${spec.name} is already running here`);
    if (!isKubeName(spec.name)) throw new Error(`attempt name ${spec.name} is not a Kubernetes name (lower-case letters, digits and '-', at most 63)`);
    const image = imageOf(spec, this.settings);
    if (!image) throw new Error('the job has no container environment (environments.<name>: {image: REF}) and this Kubernetes worker has no default image (kairos worker --place kubernetes --image REF)');
    for (const p of [spec.cwd, ...spec.paths.writable, ...spec.paths.readOnly]) {
      if (!inside(p, this.o.sharedDir)) throw new Error(`${p} is not under the shared directory ${this.o.sharedDir}, so the pod cannot see it (start the worker with its --data under --shared-dir)`);
    }
    for (const p of spec.paths.writable) mkdirSync(p, { recursive: true });
    // An earlier attempt of the same run is over before this one starts (never two live attempts).
    const parsed = parsePlaceAttemptName(spec.name);
    if (parsed && parsed.attempt > 1) for (let i = 1; i < parsed.attempt; i++) await this.end(`kairos-${parsed.runId}-${i}`);
    const { secret, skipped } = attemptSecret(spec, this.settings);
    for (const k of skipped) spec.note?.(`variable ${JSON.stringify(k.slice(0, 40))} is not a variable name Kubernetes passes: not given to the pod`);
    const ns = this.namespace;
    try {
      await this.core.createNamespacedSecret({ namespace: ns, body: secret });
    } catch (err) {
      if (apiStatus(err).code !== 409) throw new Error(`Kubernetes refused the attempt's Secret: ${apiStatus(err).message}`);
      // Our own earlier submission (the worker stopped between its calls): its values are this attempt's.
      const old = await this.core.readNamespacedSecret({ name: spec.name, namespace: ns });
      if (old.metadata?.labels?.[LABEL.worker] !== workerLabel(this.o.workerId)) throw new Error(`a Secret named ${spec.name} exists in namespace ${ns} and is not this worker's`);
      await this.core.replaceNamespacedSecret({ name: spec.name, namespace: ns, body: { ...secret, metadata: { ...secret.metadata, resourceVersion: old.metadata?.resourceVersion } } });
    }
    let job: V1Job;
    try {
      job = await this.batch.createNamespacedJob({ namespace: ns, body: attemptJob(spec, this.settings, image) });
    } catch (err) {
      const st = apiStatus(err);
      if (st.code !== 409) {
        await this.core.deleteNamespacedSecret({ name: spec.name, namespace: ns }).catch(() => undefined);
        throw new Error(`Kubernetes refused the Job (${image}): ${st.message}`);
      }
      // AlreadyExists: our own earlier submission of this very attempt, followed instead of made twice.
      job = await this.batch.readNamespacedJob({ name: spec.name, namespace: ns });
      if (job.metadata?.labels?.[LABEL.worker] !== workerLabel(this.o.workerId)) throw new Error(`a Job named ${spec.name} exists in namespace ${ns} and is not this worker's`);
      spec.note?.(`kubernetes: job ${spec.name} was already submitted: following it`);
    }
    // The Secret goes with its Job, whatever becomes of this worker.
    if (job.metadata?.uid) {
      try {
        const s = await this.core.readNamespacedSecret({ name: spec.name, namespace: ns });
        s.metadata = { ...s.metadata, ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: spec.name, uid: job.metadata.uid }] };
        await this.core.replaceNamespacedSecret({ name: spec.name, namespace: ns, body: s });
      } catch {
        // still deleted with the attempt by the place
      }
    }
    const a = new KubeAttempt(this, spec.name, spec, spec.timeLimitMs, spec.graceMs, this.readPosition(spec.name));
    this.followers.set(spec.name, a);
    a.begin();
    return a;
  }

  /** The attempt's follower (tests look at its reconnections). */
  following(name: string): { rewatches: number; relists: number; logReconnects: number } | null {
    return this.followers.get(name) ?? null;
  }

  async live(): Promise<string[]> {
    const l = await this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector: ownSelector(this.o.workerId) });
    return l.items
      .filter((j) => !j.metadata?.deletionTimestamp)
      .map((j) => j.metadata?.name ?? '')
      .filter((n) => parsePlaceAttemptName(n) !== null)
      .sort();
  }

  async adopt(name: string, output: PlaceOutput): Promise<PlaceAttempt | null> {
    if (!parsePlaceAttemptName(name)) return null;
    const existing = this.followers.get(name);
    if (existing) return existing;
    let job: V1Job;
    try {
      job = await this.batch.readNamespacedJob({ name, namespace: this.namespace });
    } catch (err) {
      if (gone(err)) return null;
      throw err;
    }
    if (job.metadata?.labels?.[LABEL.worker] !== workerLabel(this.o.workerId) || job.metadata.deletionTimestamp) return null;
    const ann = job.metadata.annotations ?? {};
    const limit = Number(ann[ANNOTATION.timeLimitMs]);
    const grace = Number(ann[ANNOTATION.graceMs]);
    const a = new KubeAttempt(this, name, output, ann[ANNOTATION.timeLimitMs] && Number.isFinite(limit) ? limit : null, Number.isFinite(grace) ? grace : 10_000, this.readPosition(name));
    this.followers.set(name, a);
    a.begin();
    return a;
  }

  async end(name: string): Promise<void> {
    if (!parsePlaceAttemptName(name)) return;
    const f = this.followers.get(name);
    if (f) {
      await f.cancel('lost', 0);
      await f.ended;
      return;
    }
    await this.deleteJob(name);
    const pods = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: attemptSelector(name) }).catch(() => ({ items: [] as V1Pod[] }));
    for (const p of pods.items) if (p.metadata?.name) await this.deletePod(p.metadata.name, 0);
    // Over once Kubernetes has removed the Job (its pods are gone first: Foreground).
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      try {
        await this.batch.readNamespacedJob({ name, namespace: this.namespace });
      } catch (err) {
        if (gone(err)) break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    await this.cleanup(name, true);
  }

  async health(): Promise<{ ok: boolean; detail: string }> {
    try {
      await this.batch.listNamespacedJob({ namespace: this.namespace, labelSelector: ownSelector(this.o.workerId), limit: 1 });
    } catch (err) {
      return { ok: false, detail: `kubernetes namespace ${this.namespace} at ${this.kc.getCurrentCluster()?.server ?? '?'}: ${apiStatus(err).message}` };
    }
    const image = this.settings.defaultImage ? `default image ${this.settings.defaultImage}` : 'no default image';
    return { ok: true, detail: `kubernetes namespace ${this.namespace} at ${this.kc.getCurrentCluster()?.server ?? '?'}: ${image}, ${this.followers.size} of ${this.o.slots} running` };
  }

  close(): Promise<void> {
    this.closed = true;
    for (const f of this.followers.values()) f.halt();
    this.followers.clear();
    return Promise.resolve();
  }

  forget(a: KubeAttempt): void {
    if (this.followers.get(a.name) === a) this.followers.delete(a.name);
  }

  /** Deletes the attempt's Job, its pods first (propagationPolicy Foreground); gone already is fine. */
  async deleteJob(name: string): Promise<void> {
    try {
      await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Foreground' });
    } catch (err) {
      if (!gone(err)) throw new Error(`cannot delete job ${name}: ${apiStatus(err).message}`);
    }
  }

  async deletePod(name: string, graceSeconds: number): Promise<void> {
    await this.core.deleteNamespacedPod({ name, namespace: this.namespace, gracePeriodSeconds: graceSeconds }).catch(() => undefined);
  }

  /** After the end was read: the Job (unless already being deleted), the Secret and the log position go. */
  async cleanup(name: string, jobDeleted: boolean): Promise<void> {
    if (!jobDeleted) await this.batch.deleteNamespacedJob({ name, namespace: this.namespace, propagationPolicy: 'Background' }).catch(() => undefined);
    await this.core.deleteNamespacedSecret({ name, namespace: this.namespace }).catch(() => undefined);
    rmSync(this.positionFile(name), { force: true });
  }

  private positionFile(name: string): string {
    return join(this.o.dataDir, 'kubernetes', `${name}.log-position`);
  }

  savePosition(name: string, p: LogPosition): void {
    try {
      writeFileSync(this.positionFile(name), JSON.stringify(p));
    } catch {
      // only a restarted worker would need it
    }
  }

  private readPosition(name: string): LogPosition | null {
    try {
      const p = JSON.parse(readFileSync(this.positionFile(name), 'utf8')) as LogPosition;
      return typeof p.key === 'string' && typeof p.n === 'number' ? p : null;
    } catch {
      return null;
    }
  }

  /** The pod's log as a stream (GET …/log, follow, timestamps), with the configuration's credentials. */
  async openLog(pod: string, sinceTime: string | null, follow: boolean): Promise<Readable> {
    const server = this.kc.getCurrentCluster()?.server ?? '';
    const url = new URL(`${server.replace(/\/+$/, '')}/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods/${encodeURIComponent(pod)}/log`);
    url.searchParams.set('container', 'main');
    url.searchParams.set('timestamps', 'true');
    url.searchParams.set('follow', String(follow));
    if (sinceTime) url.searchParams.set('sinceTime', sinceTime);
    const opts: https.RequestOptions = { method: 'GET', headers: {} };
    await this.kc.applyToHTTPSOptions(opts);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise<Readable>((resolve, reject) => {
      const req = mod.request(url, opts, (res) => {
        if (res.statusCode === 200) return resolve(res);
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c.slice(0, 4096)));
        res.on('end', () => {
          let message = body;
          try {
            message = (JSON.parse(body) as { message?: string }).message ?? body;
          } catch {
            // text
          }
          reject(Object.assign(new Error(`log of pod ${pod}: ${res.statusCode} ${message}`), { status: res.statusCode }));
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
  }
}

function inside(p: string, dir: string): boolean {
  const r = relative(dir, p);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/** The namespace of the pod this process runs in, when it runs in one. */
function ownNamespace(): string | null {
  try {
    return readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || null;
  } catch {
    return null;
  }
}
