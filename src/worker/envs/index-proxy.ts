/**
 * Dependency confusion made impossible for Kairos environments. pip is given exactly one index: this proxy,
 * on loopback, alive for one `pip install`. For each project name it asks the team's internal index first;
 * a name the internal index has is answered from it alone (its files, its `.metadata`), and only a name the
 * internal index says it does not have (404) is looked up on the environment's own indexes (`index_urls`,
 * or PyPI), first one that has it. An internal index that cannot answer fails the install: it never falls
 * through to another index, so a public package named like an internal one is never installed.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { ReadableStream as WebStream } from 'node:stream/web';

export interface InternalIndex {
  /** The internal index's `/simple/` URL, e.g. `http://kairos:7070/simple/`. */
  readonly url: string;
  readonly token: string | null;
}

export interface IndexProxy {
  /** The `/simple/` URL to give pip. */
  readonly url: string;
  close(): Promise<void>;
}

const DEFAULT_UPSTREAM = 'https://pypi.org/simple/';
const slash = (u: string) => (u.endsWith('/') ? u : u + '/');
const normalize = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

/** A URL without its userinfo, and that userinfo as a basic-auth header. */
function credentialsOf(raw: string): { url: string; headers: Record<string, string> } {
  const u = new URL(raw);
  if (!u.username && !u.password) return { url: u.toString(), headers: {} };
  const basic = Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64');
  u.username = '';
  u.password = '';
  return { url: u.toString(), headers: { authorization: `Basic ${basic}` } };
}

/** Relative links of an upstream page made absolute (pip fetches those files from the upstream itself). */
function absolutize(body: string, contentType: string, base: string): string {
  if (contentType.includes('json')) {
    const doc = JSON.parse(body) as { files?: { url?: string }[] };
    for (const f of doc.files ?? []) if (typeof f.url === 'string') f.url = new URL(f.url, base).toString();
    return JSON.stringify(doc);
  }
  return body.replace(/href="([^"]*)"/g, (_m, href: string) => {
    const decoded = href.replace(/&amp;/g, '&');
    try {
      return `href="${new URL(decoded, base).toString().replace(/&/g, '&amp;').replace(/"/g, '&quot;')}"`;
    } catch {
      return `href="${href}"`;
    }
  });
}

export async function startIndexProxy(internal: InternalIndex, upstreams: readonly string[], onLine: (line: string) => void = () => {}): Promise<IndexProxy> {
  const base = slash(internal.url);
  const origin = new URL(base).origin;
  const auth: Record<string, string> = internal.token ? { authorization: `Bearer ${internal.token}` } : {};
  const others = (upstreams.length > 0 ? upstreams : [DEFAULT_UPSTREAM]).map((u) => ({ ...credentialsOf(slash(u)) }));

  const send = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(text + '\n');
  };

  const relay = async (r: Response, res: ServerResponse, body?: string) => {
    const headers: Record<string, string> = {};
    for (const h of ['content-type', 'etag', 'vary']) {
      const v = r.headers.get(h);
      if (v) headers[h] = v;
    }
    if (body !== undefined) {
      res.writeHead(r.status, headers);
      res.end(body);
      return;
    }
    // fetch has already decoded a compressed body: its content-length would be the compressed one.
    const len = r.headers.get('content-length');
    if (len && !r.headers.get('content-encoding')) headers['content-length'] = len;
    res.writeHead(r.status, headers);
    if (r.body) {
      for await (const chunk of Readable.fromWeb(r.body as WebStream)) res.write(chunk);
    }
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const accept = req.headers.accept ?? 'text/html';
    if (path === '/simple/' || path === '/simple') return send(res, 200, '');
    const page = /^\/simple\/([^/]+)\/?$/.exec(path);
    if (page?.[1]) {
      const name = normalize(decodeURIComponent(page[1]));
      const own = await fetch(`${base}${encodeURIComponent(name)}/`, { headers: { ...auth, accept } });
      if (own.status === 200) {
        onLine(`[kairos] ${name}: from the internal index only`);
        return relay(own, res);
      }
      if (own.status !== 404) {
        await own.body?.cancel();
        // Never fall back when the internal index could not say "not mine": that is where confusion starts.
        return send(res, 502, `the internal index answered ${own.status} for ${name}; not looking elsewhere`);
      }
      await own.body?.cancel();
      for (const up of others) {
        const url = `${up.url}${encodeURIComponent(name)}/`;
        const r = await fetch(url, { headers: { ...up.headers, accept }, redirect: 'follow' });
        if (r.status === 200) {
          const type = r.headers.get('content-type') ?? 'text/html';
          return relay(r, res, absolutize(await r.text(), type, r.url || url));
        }
        await r.body?.cancel();
      }
      return send(res, 404, `${name} is on no index`);
    }
    if (path.startsWith('/pypi/files/')) {
      const r = await fetch(`${origin}${path}`, { headers: auth });
      return relay(r, res);
    }
    return send(res, 404, 'not found');
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 502, `index proxy: ${err instanceof Error ? err.message : String(err)}`);
      else res.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/simple/`,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
