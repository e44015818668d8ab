/**
 * The client of deploys, tokens and secrets: the calls of `kairos deploy`, `deployments`, `rollback` and
 * `token`. Its own connection per call (no keep-alive): a refused upload leaves its socket unusable.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import { ApiError, ConnectionError, apiError, readBody } from './client.js';

export interface TokenView {
  name: string;
  scope: string;
  project: string | null;
  created_at: string;
  created_by: string;
  revoked_at: string | null;
}

export interface DeploymentView {
  id: string;
  project: string;
  version: number;
  bundle_hash: string;
  created_at: string;
  active: boolean;
  source: string;
  deployed_by: string | null;
  git_commit: string | null;
  git_dirty: boolean | null;
}

export class DeployClient {
  constructor(
    private readonly server: string,
    private readonly token: string | null,
  ) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = new URL(this.server.replace(/\/+$/, '') + path);
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const transport = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { accept: 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
    if (payload) Object.assign(headers, { 'content-type': 'application/json', 'content-length': String(payload.length) });
    let res: http.IncomingMessage;
    try {
      res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = transport.request(url, { method, headers, agent: false }, resolve);
        req.on('error', reject);
        req.end(payload);
      });
    } catch (err) {
      throw new ConnectionError(this.server, err);
    }
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) throw await apiError(res, method, path);
    return JSON.parse(await readBody(res)) as T;
  }

  whoami() {
    return this.call<{ name: string; scope: string; project: string | null }>('GET', '/api/v1/whoami');
  }

  createToken(name: string, scope: string, project: string | null) {
    return this.call<TokenView & { token: string; first?: boolean; auth_turned_on?: boolean }>('POST', '/api/v1/tokens', { name, scope, project });
  }

  listTokens() {
    return this.call<{ tokens: TokenView[] }>('GET', '/api/v1/tokens');
  }

  revokeToken(name: string) {
    return this.call<TokenView>('DELETE', `/api/v1/tokens/${encodeURIComponent(name)}`);
  }

  deployments(project?: string) {
    return this.call<{ deployments: DeploymentView[] }>('GET', `/api/v1/deployments${project ? `?project=${encodeURIComponent(project)}` : ''}`);
  }

  /** The active version of `project` with its compiled manifest, or null when it has none. */
  async active(project: string): Promise<(DeploymentView & { manifest: unknown }) | null> {
    try {
      return await this.call<DeploymentView & { manifest: unknown }>('GET', `/api/v1/deployments/${encodeURIComponent(project)}/active`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return null;
      throw err;
    }
  }

  /** Names of the secrets set for `project`; `null` with the reason when they cannot be checked. */
  async secretNames(project: string): Promise<{ names: string[] } | { names: null; reason: string }> {
    try {
      const r = await this.call<unknown>('GET', `/api/v1/secrets?project=${encodeURIComponent(project)}`);
      const list = Array.isArray(r) ? r : (r as { secrets?: unknown }).secrets;
      if (!Array.isArray(list)) return { names: null, reason: 'the server answered the secrets listing in an unknown shape' };
      return { names: list.map((s) => (typeof s === 'string' ? s : String((s as { name?: unknown }).name ?? ''))).filter((n) => n !== '') };
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return { names: null, reason: 'this server has no secrets API' };
      if (err instanceof ApiError && (err.status === 403 || err.status === 401)) return { names: null, reason: `not allowed to list secrets (${err.message})` };
      throw err;
    }
  }

  activate(project: string, version: number) {
    return this.call<DeploymentView>('POST', `/api/v1/deployments/${encodeURIComponent(project)}/${version}/activate`);
  }

  /**
   * Uploads a bundle stream. Stops sending as soon as the server answers (a refusal comes early: a bad path,
   * a limit), and reports the server's answer rather than the broken pipe.
   */
  async upload<T>(query: Record<string, string>, body: AsyncIterable<Buffer>): Promise<T> {
    const path = `/api/v1/deployments?${new URLSearchParams(query).toString()}`;
    const url = new URL(this.server.replace(/\/+$/, '') + path);
    const transport = url.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-kairos-bundle', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
    return new Promise<T>((resolve, reject) => {
      let answered = false;
      const req = transport.request(url, { method: 'POST', headers, agent: false }, (res) => {
        answered = true;
        const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
        const done = ok ? readBody(res).then((t) => JSON.parse(t) as T) : apiError(res, 'POST', '/api/v1/deployments').then((e) => Promise.reject(e));
        done.then(resolve, reject).finally(() => req.destroy());
      });
      req.on('error', (err) => {
        if (!answered) reject(new ConnectionError(this.server, err));
      });
      void (async () => {
        try {
          for await (const chunk of body) {
            if (answered || req.destroyed) return;
            if (!req.write(chunk)) {
              await new Promise<void>((r) => {
                const go = () => {
                  req.off('drain', go);
                  req.off('close', go);
                  r();
                };
                req.on('drain', go);
                req.on('close', go);
              });
            }
          }
          if (!answered && !req.destroyed) req.end();
        } catch (err) {
          req.destroy();
          if (!answered) reject(err);
        }
      })();
    });
  }
}
