/**
 * `kairos worker --place kubernetes` options (docs/kubernetes.md): which cluster and namespace, the pods'
 * service account and default image, and the shared directory the pods mount. Parsed here, handed to the
 * kubernetes place (src/worker/places/kubernetes.ts).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { stringOption } from './args.js';
import type { OptionSpec, Parsed } from './args.js';
import { UsageError } from './output.js';
import type { PlaceKindOptions } from './place-options.js';

export const KUBERNETES_OPTIONS = {
  namespace: { type: 'string' },
  kubeconfig: { type: 'string' },
  'in-cluster': { type: 'boolean' },
  'service-account': { type: 'string' },
  image: { type: 'string' },
  'volume-claim': { type: 'string' },
  'shared-dir': { type: 'string' },
} as const satisfies OptionSpec;

export const KUBERNETES_USAGE = '[--namespace N] [--kubeconfig FILE | --in-cluster] [--service-account SA] [--image REF] [--volume-claim PVC] [--shared-dir DIR]';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
/** An image reference as Kubernetes takes it: no spaces or control characters, a sane length. */
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@+]{0,511}$/;

/** The place's options from `kairos worker`'s flags (UsageError for bad ones); `--shared-dir` is shared with slurm. */
export function kubernetesOptions(p: Parsed): Record<string, unknown> {
  const shared = stringOption(p.values['shared-dir']);
  if (!shared) throw new UsageError('--place kubernetes needs --shared-dir DIR: the directory the pods mount at the same path (--volume-claim PVC, or the node\'s own path)');
  const sharedDir = resolve(shared);
  if (!statSync(sharedDir, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--shared-dir ${sharedDir}: no such directory`);
  const kubeconfig = stringOption(p.values.kubeconfig);
  const inCluster = p.values['in-cluster'] === true;
  if (kubeconfig && inCluster) throw new UsageError('give --kubeconfig FILE or --in-cluster, not both');
  if (kubeconfig && !statSync(resolve(kubeconfig), { throwIfNoEntry: false })?.isFile()) throw new UsageError(`--kubeconfig ${kubeconfig}: no such file`);
  const named = (k: 'namespace' | 'service-account' | 'volume-claim', re: RegExp): string | null => {
    const v = stringOption(p.values[k]);
    if (v === undefined) return null;
    if (!re.test(v)) throw new UsageError(`--${k} must be a Kubernetes name (lower-case letters, digits, '-'), got "${v}"`);
    return v;
  };
  const image = stringOption(p.values.image);
  if (image !== undefined && !IMAGE.test(image)) throw new UsageError(`--image must be an image reference such as registry.example/team/python:3.12, got "${image}"`);
  return {
    sharedDir,
    kubeconfig: kubeconfig ? resolve(kubeconfig) : null,
    inCluster,
    namespace: named('namespace', DNS_LABEL),
    serviceAccount: named('service-account', DNS_SUBDOMAIN),
    volumeClaim: named('volume-claim', DNS_SUBDOMAIN),
    image: image ?? null,
  };
}

/** For `kairos worker` (./place-options.ts): these options, parsed when `--place kubernetes`. */
export const KUBERNETES_KIND_OPTIONS: PlaceKindOptions = {
  options: KUBERNETES_OPTIONS,
  usage: KUBERNETES_USAGE,
  parse: (p) => kubernetesOptions(p),
};
