/**
 * A FAKE Kubernetes API server, for tests only: no real API server can run on these machines (none in Debian
 * or npm; envtest downloads binaries). It answers the calls the Kubernetes place makes, over HTTP, with
 * payloads shaped like the real API's (Job, Pod, Secret, Node objects; Status errors; watch events as
 * newline-delimited JSON, `410 Gone` as an ERROR event carrying a Status; logs over chunked HTTP with
 * RFC 3339 timestamps), and it plays the Job controller, the scheduler and a kubelet: a pod's container is a
 * local process (its command, working directory and the variables of the Secret it names), killed with TERM,
 * the grace, then KILL when the pod is deleted.
 *
 * A memory limit is enforced with a cgroup, as a kubelet does (when this machine has a usable one; see
 * src/worker/places/cgroups.ts), and a container the kernel killed for it ends OOMKilled. What cannot happen by
 * itself here is triggered by the test: an OOM kill, an eviction, a lost node, a Job's deadline, a watch history
 * compacted (410), a log connection cut.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createAttemptCgroup, type AttemptCgroup } from '../../src/worker/places/cgroups.js';

type Obj = any;

export interface FakeNode {
  readonly name: string;
  readonly cpu: string;
  readonly memory: string;
  readonly gpu?: number;
}

export interface Deletion {
  readonly kind: 'Job' | 'Pod' | 'Secret';
  readonly name: string;
  readonly propagationPolicy: string | null;
  readonly gracePeriodSeconds: number | null;
}

interface Entry {
  readonly ms: number;
  readonly ts: string;
  readonly text: string;
}

interface Container {
  proc: ChildProcess | null;
  log: Entry[];
  ended: boolean;
  listeners: Set<() => void>;
  oom: boolean;
  evicted: string | null;
  killTimer: NodeJS.Timeout | null;
}

interface Watcher {
  readonly ns: string;
  readonly selector: Record<string, string>;
  readonly res: ServerResponse;
}

/** Go's RFC3339Nano: trailing zeros of the fraction trimmed. Millisecond resolution here, so bursts share one. */
function goTime(ms: number): string {
  const iso = new Date(ms).toISOString();
  const [base, frac = ''] = iso.slice(0, -1).split('.');
  const f = frac.replace(/0+$/, '');
  return `${base}${f ? `.${f}` : ''}Z`;
}

function parseSelector(s: string | null): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (s ?? '').split(',').filter(Boolean)) {
    const [k = '', v = ''] = part.split('=');
    out[k] = v;
  }
  return out;
}

function matches(labels: Record<string, string> | undefined, sel: Record<string, string>): boolean {
  return Object.entries(sel).every(([k, v]) => labels?.[k] === v);
}

const clone = <T>(o: T): T => JSON.parse(JSON.stringify(o)) as T;

function quantity(q: string | undefined): number {
  if (!q) return 0;
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|k|M|G)?$/.exec(q);
  if (!m) return Number(q) || 0;
  const mult: Record<string, number> = { m: 1e-3, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 };
  return Number(m[1]) * (m[2] ? (mult[m[2]] ?? 1) : 1);
}

export class FakeKubeApi {
  readonly server: Server;
  url = '';
  private rv = 100;
  private compactedRv = 0;
  readonly jobs = new Map<string, Obj>();
  readonly pods = new Map<string, Obj>();
  readonly secrets = new Map<string, Obj>();
  /** Every Secret ever created, as created (tests look at their contents). */
  readonly createdSecrets: Obj[] = [];
  /** Every Job ever created, as submitted. */
  readonly createdJobs: Obj[] = [];
  readonly deletions: Deletion[] = [];
  private readonly containers = new Map<string, Container>();
  private readonly history: { rv: number; type: string; pod: Obj }[] = [];
  private readonly watchers = new Set<Watcher>();
  private readonly openLogs = new Set<ServerResponse>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Each next followed log response is cut after that many lines. */
  readonly logCuts: number[] = [];
  /** Requests answered, as "METHOD path" (tests count watches and lists). */
  readonly calls: string[] = [];

  constructor(readonly nodes: readonly FakeNode[]) {
    this.server = createServer((req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.status(res, 500, 'InternalError', String(err));
      });
    });
  }

  async listen(): Promise<void> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A client configuration for this server (plain HTTP: the client allows it only with skipTLSVerify). */
  kubeConfig(namespace = 'kairos-test'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'fake', token: 'fake-token' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'fake', namespace }],
      currentContext: 'fake',
    });
    return kc;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.containers.values()) if (c.proc?.pid && c.proc.exitCode === null && c.proc.signalCode === null) kill(c.proc, 'SIGKILL');
    for (const w of this.watchers) w.res.destroy();
    for (const r of this.openLogs) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  // ---- what the test triggers --------------------------------------------------------------------------

  /** The watch history is compacted: open watches get `410 Gone` and end; older resourceVersions are refused. */
  compact(): void {
    this.compactedRv = this.rv;
    for (const w of [...this.watchers]) {
      this.expired(w.res, 'compacted');
      this.watchers.delete(w);
    }
  }

  /** The pod of a Job (its first). */
  podOf(job: string): Obj | undefined {
    return [...this.pods.values()].find((p) => p.metadata.labels?.['job-name'] === job);
  }

  /** The kernel kills the container for its memory (what a memory limit does to a process that goes over). */
  oomKill(pod: string): void {
    const c = this.containers.get(pod);
    if (!c?.proc) throw new Error(`no running container in ${pod}`);
    c.oom = true;
    kill(c.proc, 'SIGKILL');
  }

  /** The kubelet evicts the pod (node pressure): killed, Failed with reason Evicted. */
  evict(pod: string, message: string): void {
    const c = this.containers.get(pod);
    if (!c?.proc) throw new Error(`no running container in ${pod}`);
    c.evicted = message;
    const p = this.pods.get(pod);
    p.status.conditions.push({ type: 'DisruptionTarget', status: 'True', reason: 'TerminationByKubelet', message, lastTransitionTime: new Date().toISOString() });
    this.emit('MODIFIED', p);
    kill(c.proc, 'SIGKILL');
  }

  /** The node under the pod is lost: the taint manager deletes the pod. */
  nodeLost(pod: string): void {
    const p = this.pods.get(pod);
    p.status.conditions.push({ type: 'DisruptionTarget', status: 'True', reason: 'DeletionByTaintManager', message: 'Taint manager: deleting due to NoExecute taint', lastTransitionTime: new Date().toISOString() });
    this.emit('MODIFIED', p);
    this.deletePod(pod, 0);
  }

  /** The Job controller finds the Job past its activeDeadlineSeconds now. */
  expireDeadline(job: string): void {
    const j = this.jobs.get(job);
    if (!j || j.status.completionTime || this.jobFailed(j)) return;
    const now = new Date().toISOString();
    j.status.conditions = [
      ...(j.status.conditions ?? []),
      { type: 'FailureTarget', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: now, lastProbeTime: now },
      { type: 'Failed', status: 'True', reason: 'DeadlineExceeded', message: 'Job was active longer than specified deadline', lastTransitionTime: now, lastProbeTime: now },
    ];
    this.bump(j);
    for (const p of this.podsOfJob(job)) this.deletePod(p.metadata.name, p.spec.terminationGracePeriodSeconds ?? 30);
  }

  // ---- HTTP --------------------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const q = url.searchParams;
    const path = url.pathname;
    const method = req.method ?? 'GET';
    this.calls.push(`${method} ${path}${q.get('watch') === 'true' ? '?watch' : ''}`);
    if (req.headers.authorization !== 'Bearer fake-token') return this.status(res, 401, 'Unauthorized', 'Unauthorized');
    const body = method === 'POST' || method === 'PUT' || method === 'DELETE' ? await readJson(req) : null;
    let m: RegExpExecArray | null;
    if (path === '/api/v1/nodes' && method === 'GET') return this.json(res, 200, { kind: 'NodeList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items: this.nodes.map((n) => nodeObject(n)) });
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/secrets(?:\/([^/]+))?$/.exec(path))) return this.secretsRoute(res, method, m[1] as string, m[2], body, q);
    if ((m = /^\/apis\/batch\/v1\/namespaces\/([^/]+)\/jobs(?:\/([^/]+))?$/.exec(path))) return this.jobsRoute(res, method, m[1] as string, m[2], body, q);
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(path))) return this.logRoute(res, m[1] as string, m[2] as string, q);
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?$/.exec(path))) return this.podsRoute(res, method, m[1] as string, m[2], body, q);
    return this.status(res, 404, 'NotFound', `the server could not find the requested resource`);
  }

  private json(res: ServerResponse, code: number, obj: unknown): void {
    res.writeHead(code, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(obj));
  }

  private status(res: ServerResponse, code: number, reason: string, message: string, details?: Obj): void {
    this.json(res, code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code });
  }

  private notFound(res: ServerResponse, kind: string, name: string): void {
    this.status(res, 404, 'NotFound', `${kind} "${name}" not found`, { name, kind });
  }

  private deleteOptions(q: URLSearchParams, body: Obj): { propagationPolicy: string | null; gracePeriodSeconds: number | null } {
    const pp = q.get('propagationPolicy') ?? body?.propagationPolicy ?? null;
    const g = q.get('gracePeriodSeconds') ?? body?.gracePeriodSeconds;
    return { propagationPolicy: pp, gracePeriodSeconds: g === undefined || g === null ? null : Number(g) };
  }

  private secretsRoute(res: ServerResponse, method: string, ns: string, name: string | undefined, body: Obj, q: URLSearchParams): void {
    const key = (n: string) => `${ns}/${n}`;
    if (!name && method === 'POST') {
      const n = body.metadata.name as string;
      if (this.secrets.has(key(n))) return this.status(res, 409, 'AlreadyExists', `secrets "${n}" already exists`, { name: n, kind: 'secrets' });
      const s = { ...body, metadata: { ...body.metadata, namespace: ns, uid: randomUUID(), resourceVersion: String(++this.rv), creationTimestamp: new Date().toISOString() } };
      this.secrets.set(key(n), s);
      this.createdSecrets.push(clone(s));
      return this.json(res, 201, s);
    }
    if (!name) return this.status(res, 405, 'MethodNotAllowed', 'method not allowed');
    const s = this.secrets.get(key(name));
    if (!s) return this.notFound(res, 'secrets', name);
    if (method === 'GET') return this.json(res, 200, s);
    if (method === 'PUT') {
      if (body.metadata.resourceVersion && body.metadata.resourceVersion !== s.metadata.resourceVersion) return this.status(res, 409, 'Conflict', `Operation cannot be fulfilled on secrets "${name}": the object has been modified`);
      const next = { ...body, metadata: { ...body.metadata, namespace: ns, uid: s.metadata.uid, resourceVersion: String(++this.rv), creationTimestamp: s.metadata.creationTimestamp } };
      this.secrets.set(key(name), next);
      return this.json(res, 200, next);
    }
    if (method === 'DELETE') {
      this.secrets.delete(key(name));
      this.deletions.push({ kind: 'Secret', name, ...this.deleteOptions(q, null) });
      return this.json(res, 200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'secrets', uid: s.metadata.uid } });
    }
    return this.status(res, 405, 'MethodNotAllowed', 'method not allowed');
  }

  private jobsRoute(res: ServerResponse, method: string, ns: string, name: string | undefined, body: Obj, q: URLSearchParams): void {
    if (!name && method === 'GET') {
      const sel = parseSelector(q.get('labelSelector'));
      let items = [...this.jobs.values()].filter((j) => j.metadata.namespace === ns && matches(j.metadata.labels, sel));
      const limit = Number(q.get('limit') ?? 0);
      if (limit > 0) items = items.slice(0, limit);
      return this.json(res, 200, { kind: 'JobList', apiVersion: 'batch/v1', metadata: { resourceVersion: String(this.rv) }, items });
    }
    if (!name && method === 'POST') {
      const n = body.metadata.name as string;
      if (this.jobs.has(n)) return this.status(res, 409, 'AlreadyExists', `jobs.batch "${n}" already exists`, { name: n, group: 'batch', kind: 'jobs' });
      this.createdJobs.push(clone(body));
      const j = { ...body, metadata: { ...body.metadata, namespace: ns, uid: randomUUID(), resourceVersion: String(++this.rv), creationTimestamp: new Date().toISOString(), generation: 1 }, status: { startTime: new Date().toISOString(), active: 0 } };
      this.jobs.set(n, j);
      if (j.spec.activeDeadlineSeconds) this.later(j.spec.activeDeadlineSeconds * 1000, () => this.expireDeadline(n));
      setImmediate(() => this.makePod(j));
      return this.json(res, 201, j);
    }
    if (!name) return this.status(res, 405, 'MethodNotAllowed', 'method not allowed');
    const j = this.jobs.get(name);
    if (!j) return this.notFound(res, 'jobs.batch', name);
    if (method === 'GET') return this.json(res, 200, j);
    if (method === 'DELETE') {
      const o = this.deleteOptions(q, body);
      this.deletions.push({ kind: 'Job', name, ...o });
      const pods = this.podsOfJob(name);
      if (o.propagationPolicy === 'Foreground') {
        // The Job stays, with its finalizer, until its pods are gone.
        if (!j.metadata.deletionTimestamp) {
          j.metadata.deletionTimestamp = new Date().toISOString();
          j.metadata.finalizers = ['foregroundDeletion'];
          this.bump(j);
        }
        for (const p of pods) this.deletePod(p.metadata.name, p.spec.terminationGracePeriodSeconds ?? 30);
        this.maybeRemoveJob(name);
      } else {
        this.removeJob(name);
        if (o.propagationPolicy !== 'Orphan') for (const p of pods) this.deletePod(p.metadata.name, p.spec.terminationGracePeriodSeconds ?? 30);
      }
      return this.json(res, 200, j);
    }
    return this.status(res, 405, 'MethodNotAllowed', 'method not allowed');
  }

  private podsRoute(res: ServerResponse, method: string, ns: string, name: string | undefined, body: Obj, q: URLSearchParams): void {
    if (!name && method === 'GET') {
      const sel = parseSelector(q.get('labelSelector'));
      if (q.get('watch') === 'true') return this.watch(res, ns, sel, q.get('resourceVersion'));
      const items = [...this.pods.values()].filter((p) => p.metadata.namespace === ns && matches(p.metadata.labels, sel));
      return this.json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
    }
    if (!name) return this.status(res, 405, 'MethodNotAllowed', 'method not allowed');
    const p = this.pods.get(name);
    if (!p) return this.notFound(res, 'pods', name);
    if (method === 'GET') return this.json(res, 200, p);
    if (method === 'DELETE') {
      const o = this.deleteOptions(q, body);
      this.deletions.push({ kind: 'Pod', name, ...o });
      this.deletePod(name, o.gracePeriodSeconds ?? p.spec.terminationGracePeriodSeconds ?? 30);
      return this.json(res, 200, p);
    }
    return this.status(res, 405, 'MethodNotAllowed', 'method not allowed');
  }

  private expired(res: ServerResponse, why: string): void {
    const status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${why}`, reason: 'Expired', code: 410 };
    res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
  }

  private watch(res: ServerResponse, ns: string, selector: Record<string, string>, rv: string | null): void {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    if (rv && Number(rv) < this.compactedRv) return this.expired(res, `${rv} (${this.compactedRv})`);
    const w: Watcher = { ns, selector, res };
    const send = (type: string, pod: Obj) => {
      if (pod.metadata.namespace === ns && matches(pod.metadata.labels, selector)) res.write(`${JSON.stringify({ type, object: pod })}\n`);
    };
    if (rv) for (const e of this.history) if (e.rv > Number(rv)) send(e.type, e.pod);
    if (!rv) for (const p of this.pods.values()) send('ADDED', p);
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }

  private logRoute(res: ServerResponse, ns: string, pod: string, q: URLSearchParams): void {
    const p = this.pods.get(pod);
    if (!p || p.metadata.namespace !== ns) return this.notFound(res, 'pods', pod);
    const c = this.containers.get(pod);
    if (!c || (!c.proc && !c.ended)) return this.status(res, 400, 'BadRequest', `container "main" in pod "${pod}" is waiting to start: ContainerCreating`);
    const since = q.get('sinceTime');
    // The API reads sinceTime to the second.
    const sinceMs = since ? Math.floor(Date.parse(since) / 1000) * 1000 : 0;
    const follow = q.get('follow') === 'true';
    const stamps = q.get('timestamps') === 'true';
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
    const cut = follow ? this.logCuts.shift() : undefined;
    let sent = 0;
    let i = 0;
    const flush = (): boolean => {
      for (; i < c.log.length; i++) {
        const e = c.log[i] as Entry;
        if (e.ms < sinceMs) continue;
        if (cut !== undefined && sent >= cut) {
          res.destroy();
          return false;
        }
        res.write(stamps ? `${e.ts} ${e.text}\n` : `${e.text}\n`);
        sent++;
      }
      return true;
    };
    if (!flush()) return;
    if (!follow || c.ended) return void res.end();
    this.openLogs.add(res);
    const on = () => {
      if (!flush()) return stop();
      if (c.ended) {
        res.end();
        stop();
      }
    };
    const stop = () => {
      c.listeners.delete(on);
      this.openLogs.delete(res);
    };
    c.listeners.add(on);
    res.on('close', stop);
  }

  // ---- the Job controller, the scheduler and a kubelet ---------------------------------------------------

  private bump(o: Obj): void {
    o.metadata.resourceVersion = String(++this.rv);
  }

  private emit(type: string, pod: Obj): void {
    this.bump(pod);
    const snap = clone(pod);
    this.history.push({ rv: this.rv, type, pod: snap });
    for (const w of this.watchers) if (snap.metadata.namespace === w.ns && matches(snap.metadata.labels, w.selector)) w.res.write(`${JSON.stringify({ type, object: snap })}\n`);
  }

  private podsOfJob(job: string): Obj[] {
    return [...this.pods.values()].filter((p) => p.metadata.labels?.['job-name'] === job);
  }

  private jobFailed(j: Obj): boolean {
    return (j.status.conditions ?? []).some((c: Obj) => c.type === 'Failed' && c.status === 'True');
  }

  private removeJob(name: string): void {
    const j = this.jobs.get(name);
    if (!j) return;
    this.jobs.delete(name);
    // The garbage collector: what the Job owns goes with it.
    for (const [k, s] of this.secrets) if ((s.metadata.ownerReferences ?? []).some((r: Obj) => r.uid === j.metadata.uid)) this.secrets.delete(k);
  }

  private maybeRemoveJob(name: string): void {
    const j = this.jobs.get(name);
    if (j?.metadata.deletionTimestamp && this.podsOfJob(name).length === 0) this.removeJob(name);
  }

  private makePod(j: Obj): void {
    if (!this.jobs.has(j.metadata.name) || j.metadata.deletionTimestamp) return;
    const jobName = j.metadata.name as string;
    const name = `${jobName}-${randomBytes(3).toString('hex').slice(0, 5)}`;
    const tpl = clone(j.spec.template);
    const pod: Obj = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        namespace: j.metadata.namespace,
        uid: randomUUID(),
        generateName: `${jobName}-`,
        creationTimestamp: new Date().toISOString(),
        labels: { ...tpl.metadata?.labels, 'batch.kubernetes.io/controller-uid': j.metadata.uid, 'batch.kubernetes.io/job-name': jobName, 'controller-uid': j.metadata.uid, 'job-name': jobName },
        ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: jobName, uid: j.metadata.uid, controller: true, blockOwnerDeletion: true }],
      },
      spec: { ...tpl.spec, schedulerName: 'default-scheduler', dnsPolicy: 'ClusterFirst' },
      status: { phase: 'Pending', qosClass: 'Burstable', conditions: [] },
    };
    this.pods.set(name, pod);
    j.status.active = 1;
    this.bump(j);
    this.emit('ADDED', pod);
    this.containers.set(name, { proc: null, log: [], ended: false, listeners: new Set(), oom: false, evicted: null, killTimer: null });
    // The scheduler: a node whose allocatable holds the requests.
    const req = pod.spec.containers[0].resources?.requests ?? {};
    const fits = this.nodes.find((n) => quantity(req.cpu) <= quantity(n.cpu) && quantity(req.memory) <= quantity(n.memory) && Number(req['nvidia.com/gpu'] ?? 0) <= (n.gpu ?? 0));
    const now = new Date().toISOString();
    if (!fits) {
      const short = this.nodes.length;
      const what = [quantity(req.cpu) > Math.max(...this.nodes.map((n) => quantity(n.cpu))) ? 'cpu' : null, quantity(req.memory) > Math.max(...this.nodes.map((n) => quantity(n.memory))) ? 'memory' : null, Number(req['nvidia.com/gpu'] ?? 0) > Math.max(...this.nodes.map((n) => n.gpu ?? 0)) ? 'nvidia.com/gpu' : null].filter(Boolean);
      pod.status.conditions = [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', lastProbeTime: null, lastTransitionTime: now, message: `0/${short} nodes are available: ${what.map((w) => `${short} Insufficient ${w}`).join(', ')}. preemption: 0/${short} nodes are available: ${short} No preemption victims found for incoming pod.` }];
      this.emit('MODIFIED', pod);
      return;
    }
    pod.spec.nodeName = fits.name;
    pod.status.conditions = [{ type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now }];
    pod.status.hostIP = '10.0.0.10';
    pod.status.startTime = now;
    pod.status.containerStatuses = [{ name: 'main', image: pod.spec.containers[0].image, imageID: '', ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'ContainerCreating' } }, lastState: {} }];
    this.emit('MODIFIED', pod);
    this.later(20, () => this.pull(name, 0));
  }

  private pull(name: string, tries: number): void {
    const pod = this.pods.get(name);
    if (!pod || pod.metadata.deletionTimestamp) return;
    const image = pod.spec.containers[0].image as string;
    const st = pod.status.containerStatuses[0];
    if (/missing|does-not-exist/.test(image)) {
      st.state = tries === 0
        ? { waiting: { reason: 'ErrImagePull', message: `failed to pull and unpack image "${image}": failed to resolve reference "${image}": not found` } }
        : { waiting: { reason: 'ImagePullBackOff', message: `Back-off pulling image "${image}"` } };
      this.emit('MODIFIED', pod);
      this.later(100, () => this.pull(name, tries + 1));
      return;
    }
    const secretName = pod.spec.containers[0].envFrom?.[0]?.secretRef?.name as string | undefined;
    const secret = secretName ? this.secrets.get(`${pod.metadata.namespace}/${secretName}`) : null;
    if (secretName && !secret) {
      st.state = { waiting: { reason: 'CreateContainerConfigError', message: `secret "${secretName}" not found` } };
      this.emit('MODIFIED', pod);
      this.later(100, () => this.pull(name, tries + 1));
      return;
    }
    this.run(name, secret);
  }

  private run(name: string, secret: Obj): void {
    const pod = this.pods.get(name);
    const c = this.containers.get(name) as Container;
    const spec = pod.spec.containers[0];
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOSTNAME: name, HOME: '/root' };
    for (const [k, v] of Object.entries((secret?.data ?? {}) as Record<string, string>)) env[k] = Buffer.from(v, 'base64').toString('utf8');
    for (const e of spec.env ?? []) if (typeof e.value === 'string') env[e.name] = e.value;
    let [cmd = '', ...args] = [...(spec.command ?? []), ...(spec.args ?? [])];
    // The kubelet's memory limit: the container in a cgroup of its own with that limit (when this machine has
    // a usable one), entered by a small shell before it execs the command.
    const memory = quantity(spec.resources?.limits?.memory);
    const cg: AttemptCgroup | null = memory > 0 ? createAttemptCgroup(`kairos-fake-kubelet-${name}`, { memoryBytes: memory, cpu: null }) : null;
    if (cg) {
      args = ['-c', 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1"; shift; n=$((n-1)); done; exec "$@"', 'sh', String(cg.procs.length), ...cg.procs, cmd, ...args];
      cmd = '/bin/sh';
    }
    const st = pod.status.containerStatuses[0];
    const startedAt = new Date().toISOString();
    let proc: ChildProcess;
    try {
      proc = spawn(cmd, args, { cwd: spec.workingDir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      return this.terminated(name, { exitCode: 128, reason: 'StartError', message: String(err), startedAt: '1970-01-01T00:00:00Z', finishedAt: new Date().toISOString() });
    }
    let failedToStart = false;
    proc.on('error', (err) => {
      failedToStart = true;
      this.terminated(name, { exitCode: 128, reason: 'StartError', message: `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${cmd}": ${err.message}`, startedAt: '1970-01-01T00:00:00Z', finishedAt: new Date().toISOString() });
    });
    if (!proc.pid) return;
    c.proc = proc;
    st.state = { running: { startedAt } };
    st.ready = true;
    st.started = true;
    st.containerID = `containerd://${randomBytes(32).toString('hex')}`;
    pod.status.phase = 'Running';
    pod.status.podIP = '10.244.0.10';
    this.emit('MODIFIED', pod);
    let pending = 2;
    const collect = (stream: NodeJS.ReadableStream) => {
      let rest = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        const parts = (rest + chunk).split('\n');
        rest = parts.pop() ?? '';
        const ms = Date.now();
        for (const text of parts) c.log.push({ ms, ts: goTime(ms), text });
        for (const l of c.listeners) l();
      });
      stream.on('end', () => {
        if (rest) {
          const ms = Date.now();
          c.log.push({ ms, ts: goTime(ms), text: rest });
        }
        if (--pending === 0) done();
      });
    };
    let exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
    let outputsClosed = false;
    const done = () => {
      outputsClosed = true;
      if (exit) finish();
    };
    const finish = () => {
      if (failedToStart || !exit) return;
      const code = exit.code ?? 128 + (signalNumber(exit.signal) ?? 9);
      const reason = c.oom ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error';
      this.terminated(name, { exitCode: c.oom ? 137 : code, reason, startedAt, finishedAt: new Date().toISOString(), containerID: st.containerID });
    };
    collect(proc.stdout as NodeJS.ReadableStream);
    collect(proc.stderr as NodeJS.ReadableStream);
    proc.on('exit', (code, signal) => {
      exit = { code, signal };
      if (cg?.oomKilled()) c.oom = true;
      if (cg) void cg.killAll().then(() => cg.remove());
      // The container's processes all die with it (its cgroup): what it left in the background too.
      try {
        process.kill(-(proc.pid as number), 'SIGKILL');
      } catch {
        // none left
      }
      if (outputsClosed) finish();
    });
  }

  private terminated(name: string, t: Obj): void {
    const pod = this.pods.get(name);
    const c = this.containers.get(name) as Container;
    if (c.killTimer) clearTimeout(c.killTimer);
    c.ended = true;
    for (const l of [...c.listeners]) l();
    if (!pod) return;
    const st = pod.status.containerStatuses[0];
    st.state = { terminated: t };
    st.ready = false;
    st.started = false;
    pod.status.phase = t.exitCode === 0 ? 'Succeeded' : 'Failed';
    if (c.evicted) {
      pod.status.reason = 'Evicted';
      pod.status.message = c.evicted;
    }
    this.emit('MODIFIED', pod);
    const job = this.jobs.get(pod.metadata.labels['job-name']);
    if (job && !pod.metadata.deletionTimestamp) {
      const now = new Date().toISOString();
      job.status.active = 0;
      if (t.exitCode === 0) {
        job.status.succeeded = 1;
        job.status.completionTime = now;
        job.status.conditions = [...(job.status.conditions ?? []), { type: 'SuccessCriteriaMet', status: 'True', lastTransitionTime: now }, { type: 'Complete', status: 'True', lastTransitionTime: now }];
      } else if (!this.jobFailed(job)) {
        job.status.failed = 1;
        job.status.conditions = [...(job.status.conditions ?? []), { type: 'FailureTarget', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: now }, { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: now }];
      }
      this.bump(job);
    }
    if (pod.metadata.deletionTimestamp) this.removePod(name);
  }

  private removePod(name: string): void {
    const pod = this.pods.get(name);
    if (!pod) return;
    this.pods.delete(name);
    this.emit('DELETED', pod);
    // A pod deleted before it succeeded counts as failed: backoffLimit 0 fails the Job.
    const job = this.jobs.get(pod.metadata.labels['job-name']);
    if (job && !job.metadata.deletionTimestamp && pod.status.phase !== 'Succeeded' && !this.jobFailed(job)) {
      const now = new Date().toISOString();
      job.status.active = 0;
      job.status.failed = 1;
      job.status.conditions = [...(job.status.conditions ?? []), { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: now }];
      this.bump(job);
    }
    this.maybeRemoveJob(pod.metadata.labels['job-name']);
  }

  /** The kubelet's part of a deletion: TERM, the grace, KILL; the pod object goes once its container is over. */
  private deletePod(name: string, graceSeconds: number): void {
    const pod = this.pods.get(name);
    if (!pod) return;
    const c = this.containers.get(name);
    const first = !pod.metadata.deletionTimestamp;
    if (first) {
      pod.metadata.deletionTimestamp = new Date(Date.now() + graceSeconds * 1000).toISOString();
      pod.metadata.deletionGracePeriodSeconds = graceSeconds;
      this.emit('MODIFIED', pod);
    }
    const proc = c?.proc;
    if (!proc || c.ended) return this.removePod(name);
    if (graceSeconds <= 0) return kill(proc, 'SIGKILL');
    if (first) {
      kill(proc, 'SIGTERM');
      c.killTimer = setTimeout(() => kill(proc, 'SIGKILL'), graceSeconds * 1000);
    }
  }
}

function kill(proc: ChildProcess, sig: NodeJS.Signals): void {
  try {
    process.kill(-(proc.pid as number), sig);
  } catch {
    // gone
  }
}

function signalNumber(sig: NodeJS.Signals | null): number | null {
  const n: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15 };
  return sig ? (n[sig] ?? null) : null;
}

function nodeObject(n: FakeNode): Obj {
  const res = { cpu: n.cpu, memory: n.memory, pods: '110', 'ephemeral-storage': '95491281146', ...(n.gpu ? { 'nvidia.com/gpu': String(n.gpu) } : {}) };
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: n.name, uid: randomUUID(), labels: { 'kubernetes.io/hostname': n.name, 'kubernetes.io/os': 'linux' } },
    spec: {},
    status: { capacity: res, allocatable: res, conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }], nodeInfo: { kubeletVersion: 'v1.32.0', containerRuntimeVersion: 'containerd://1.7.24', operatingSystem: 'linux', architecture: 'amd64' } },
  };
}

async function readJson(req: IncomingMessage): Promise<Obj> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? JSON.parse(text) : null;
}

/** Starts the fake API server on loopback. */
export async function startFakeKubeApi(nodes: readonly FakeNode[] = [{ name: 'fake-node-1', cpu: '4', memory: '8Gi', gpu: 2 }, { name: 'fake-node-2', cpu: '2', memory: '4Gi' }]): Promise<FakeKubeApi> {
  const api = new FakeKubeApi(nodes);
  await api.listen();
  return api;
}
