/**
 * The service relay's wire format (docs/services.md). A worker running a service job opens one WebSocket to
 * the server (its own outbound connection: the service's machine needs no inbound port) and the server
 * multiplexes the HTTP requests and WebSockets of `/services/<project>/<job>/…` over it as numbered streams.
 * Every message of the tunnel is one binary frame: a type byte, a stream id (uint32, big-endian), a payload.
 *
 *   server → worker  open     {method, path, headers, ws}   a request (or a WebSocket upgrade) begins
 *   both             data     raw bytes                      request body (→) or response body (←)
 *   both             end      -                              the body is complete
 *   both             reset    reason text                    the stream is dropped (client gone, upstream error)
 *   worker → server  head     {status, headers}              the response's status and headers
 *   worker → server  accept   {protocol}                     the upstream WebSocket accepted the upgrade
 *   both             message  1 byte binary flag + data      one WebSocket message
 *   both             close    uint16 code + reason           one side of a WebSocket closed
 *   worker → server  state    {state: 'up'|'down', detail}   the service answers its health check, or stopped answering
 *
 * Stream 0 carries `state` only. Headers travel as [name, value] pairs (lower-case names, repeated names kept).
 */
import { PROTOCOL_LIMITS } from './worker.js';

export const FRAME = {
  open: 1,
  data: 2,
  end: 3,
  reset: 4,
  head: 5,
  accept: 6,
  message: 7,
  close: 8,
  state: 9,
} as const;
export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export type HeaderPairs = readonly (readonly [string, string])[];

export interface OpenFrame {
  readonly method: string;
  /** The path and query as the client sent them (`/services/<project>/<job>/…`). */
  readonly path: string;
  readonly headers: HeaderPairs;
  readonly ws: boolean;
}
export interface HeadFrame {
  readonly status: number;
  readonly headers: HeaderPairs;
}
export interface StateFrame {
  readonly state: 'up' | 'down';
  readonly detail: string | null;
}

/** The tunnel's URL path on the server (a WebSocket upgrade; the worker's token and the attempt's lease). */
export const RELAY_PATH = '/api/v1/leases/relay';
/** Header carrying the lease: `<runId> <attempt> <token>`. */
export const LEASE_HEADER = 'x-kairos-lease';

/** Largest frame either side sends (a body is cut into frames of at most this much). */
export const MAX_FRAME_BYTES = 256 * 1024;
/** Largest tunnel message accepted (a WebSocket message of the service plus the frame's header). */
export const MAX_TUNNEL_MESSAGE = 64 * 1024 * 1024;

export function encodeFrame(type: FrameType, stream: number, payload?: Buffer | string): Buffer {
  const body = payload === undefined ? Buffer.alloc(0) : typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.allocUnsafe(5);
  head.writeUInt8(type, 0);
  head.writeUInt32BE(stream, 1);
  return Buffer.concat([head, body]);
}

export function encodeJson(type: FrameType, stream: number, value: unknown): Buffer {
  return encodeFrame(type, stream, JSON.stringify(value));
}

export interface Frame {
  readonly type: number;
  readonly stream: number;
  readonly payload: Buffer;
}

export function decodeFrame(buf: Buffer): Frame | null {
  if (buf.length < 5) return null;
  return { type: buf.readUInt8(0), stream: buf.readUInt32BE(1), payload: buf.subarray(5) };
}

export function encodeMessage(stream: number, data: Buffer, binary: boolean): Buffer {
  return encodeFrame(FRAME.message, stream, Buffer.concat([Buffer.from([binary ? 1 : 0]), data]));
}

export function decodeMessage(payload: Buffer): { binary: boolean; data: Buffer } {
  return { binary: payload[0] === 1, data: payload.subarray(1) };
}

export function encodeClose(stream: number, code: number, reason: string): Buffer {
  const b = Buffer.allocUnsafe(2);
  b.writeUInt16BE(validCloseCode(code) ? code : 1000, 0);
  return encodeFrame(FRAME.close, stream, Buffer.concat([b, Buffer.from(reason.slice(0, 120))]));
}

export function decodeClose(payload: Buffer): { code: number; reason: string } {
  const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1000;
  return { code: validCloseCode(code) ? code : 1000, reason: payload.subarray(2).toString() };
}

/** Codes an endpoint may send in a close frame (RFC 6455 7.4): never 1005, 1006, 1015. */
export function validCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) || (code >= 3000 && code <= 4999);
}

/** Parses a JSON payload of a known shape; a malformed one is null (the stream is reset). */
export function parseJson<T>(payload: Buffer, check: (v: unknown) => v is T): T | null {
  try {
    const v: unknown = JSON.parse(payload.toString());
    return check(v) ? v : null;
  } catch {
    return null;
  }
}

const isPairs = (v: unknown): v is HeaderPairs =>
  Array.isArray(v) && v.length <= 500 && v.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string' && typeof p[1] === 'string' && p[0].length <= 200 && p[1].length <= 16_384);

export const isOpenFrame = (v: unknown): v is OpenFrame => {
  const o = v as Partial<OpenFrame> | null;
  return typeof o === 'object' && o !== null && typeof o.method === 'string' && /^[A-Z]{1,20}$/.test(o.method) && typeof o.path === 'string' && o.path.startsWith('/') && o.path.length <= PROTOCOL_LIMITS.text * 4 && isPairs(o.headers) && typeof o.ws === 'boolean';
};
export const isHeadFrame = (v: unknown): v is HeadFrame => {
  const o = v as Partial<HeadFrame> | null;
  return typeof o === 'object' && o !== null && Number.isInteger(o.status) && (o.status ?? 0) >= 100 && (o.status ?? 0) <= 599 && isPairs(o.headers);
};
export const isStateFrame = (v: unknown): v is StateFrame => {
  const o = v as Partial<StateFrame> | null;
  return typeof o === 'object' && o !== null && (o.state === 'up' || o.state === 'down') && (o.detail === null || (typeof o.detail === 'string' && o.detail.length <= PROTOCOL_LIMITS.text));
};
export const isAcceptFrame = (v: unknown): v is { protocol: string | null } => {
  const o = v as { protocol?: unknown } | null;
  return typeof o === 'object' && o !== null && (o.protocol === null || typeof o.protocol === 'string');
};

/** Headers that describe one hop of a connection, never forwarded (RFC 9110 7.6.1), plus the WebSocket handshake's own. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
  'sec-websocket-accept',
]);

export { serviceBasePath } from '../model/service.js';
