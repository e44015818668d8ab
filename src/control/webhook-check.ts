/**
 * The internal-address guard of alert delivery (webhooks.ts), applied when a version is deployed: a webhook
 * on loopback or a private network is refused then, with the rule that names it, instead of passing every
 * check and failing only when the alert fires. Delivery checks again (a name may resolve elsewhere later).
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { CompiledManifest } from '../model/job.js';
import { refusal } from '../model/alerts.js';
import { KairosError } from '../model/errors.js';

/** A name that does not resolve within this long is left to delivery (it may resolve there). */
const LOOKUP_MS = 3000;

async function resolveHost(host: string): Promise<string | null> {
  if (isIP(host)) return host;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      lookup(host).then((r) => r.address),
      new Promise<null>((r) => {
        timer = setTimeout(() => r(null), LOOKUP_MS);
      }),
    ]);
  } catch {
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/** One line per webhook the server would refuse: `jobs.a.notify[0]: webhook http://127.0.0.1:9 is refused: …`. */
export async function refusedWebhooks(manifest: CompiledManifest, allowHosts: readonly string[]): Promise<string[]> {
  const rules = new Map<string, string>();
  for (const rule of manifest.defaults.notify ?? []) rules.set(rule.id, rule.webhook);
  for (const job of Object.values(manifest.jobs)) for (const rule of job.notify ?? []) rules.set(rule.id, rule.webhook);
  const problems: string[] = [];
  for (const [where, target] of rules) {
    let url: URL;
    try {
      url = new URL(target);
    } catch {
      continue; // the manifest's own validation speaks about URLs
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const address = await resolveHost(host);
    if (address === null) continue;
    const why = refusal(host, address, allowHosts);
    if (why) problems.push(`${where}: the webhook ${url.origin} would be ${why}`);
  }
  return problems;
}

/** Throws `invalid_manifest` (422) naming every refused webhook. */
export async function assertWebhooksAllowed(manifest: CompiledManifest, allowHosts: readonly string[]): Promise<void> {
  const problems = await refusedWebhooks(manifest, allowHosts);
  if (problems.length === 0) return;
  throw new KairosError('invalid_manifest', `${problems.length} webhook${problems.length === 1 ? '' : 's'} of project ${manifest.project} would never be called: ${problems.join('; ')}`, { errors: problems });
}
