/** Binding the API to a socket. A server that listens beyond loopback requires a token. */
import { getRequestListener } from '@hono/node-server';
import { createServer, type Server } from 'node:http';
import type { ServiceRelay } from './services.js';
import type { AddressInfo } from 'node:net';
import { KairosError } from '../model/errors.js';
import type { Hono } from 'hono';

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export interface Listening {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** `relay`: the service relay (src/api/services.ts) answers `/services/…` and the workers' tunnels. */
export async function listen(app: Hono, host: string, port: number, hasToken: boolean, relay?: ServiceRelay): Promise<Listening> {
  if (!isLoopback(host) && !hasToken) {
    throw new KairosError('invalid_input', `refusing to listen on ${host} without auth: set --token or KAIROS_TOKEN, or create a token first (kairos token create NAME --scope admin --data DIR), or listen on 127.0.0.1`);
  }
  const api = getRequestListener(app.fetch);
  const server: Server = createServer((req, res) => {
    if (relay?.handles(req.url)) void relay.handleRequest(req, res);
    else void api(req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    if (relay?.handles(req.url)) void relay.handleUpgrade(req, socket, head);
    else socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new KairosError('invalid_input', `port ${port} on ${host} is already in use; pick another with --port`) : err);
    });
    server.listen(port, host, () => resolve());
  });
  // Once listening, an error (e.g. out of file descriptors while accepting) is said, not a crash of the server.
  server.on('error', (err) => console.error(`kairos: the HTTP server: ${err.message}`));
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shownHost}:${addr.port}`,
    port: addr.port,
    close: () =>
      new Promise<void>((resolve) => {
        relay?.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
