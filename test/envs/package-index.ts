/**
 * A real package index for tests, on loopback: tiny wheels built here (a wheel is a zip with the package,
 * METADATA, WHEEL and RECORD) served as a PEP 503 "simple" index by a Node HTTP server. pip talks to it as to
 * any index; no network beyond 127.0.0.1 is needed.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { deflateRawSync } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A zip archive (deflated entries), enough for wheels. */
export function zip(files: Record<string, string | Buffer>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const packed = deflateRawSync(data);
    const nameBuf = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0, 6);
    local.writeUInt16LE(8, 8);
    local.writeUInt32LE(0, 10);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBuf.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0, 8);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(0, 12);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBuf.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBuf, packed);
    centrals.push(central, nameBuf);
    offset += local.length + nameBuf.length + packed.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(Object.keys(files).length, 8);
  end.writeUInt16LE(Object.keys(files).length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const recordHash = (data: string) => 'sha256=' + createHash('sha256').update(data).digest('base64url');

export interface WheelSpec {
  readonly name: string;
  readonly version: string;
  readonly requires?: readonly string[];
}

/** A pure-Python wheel whose module `<name>` has `VERSION`. Returns [file name, bytes]. */
export function wheel(w: WheelSpec): [string, Buffer] {
  const mod = w.name.replaceAll('-', '_');
  const dist = `${mod}-${w.version}.dist-info`;
  const files: Record<string, string> = {
    [`${mod}/__init__.py`]: `VERSION = ${JSON.stringify(w.version)}\n`,
    [`${dist}/METADATA`]: ['Metadata-Version: 2.1', `Name: ${w.name}`, `Version: ${w.version}`, ...(w.requires ?? []).map((r) => `Requires-Dist: ${r}`), ''].join('\n'),
    [`${dist}/WHEEL`]: ['Wheel-Version: 1.0', 'Generator: kairos-test', 'Root-Is-Purelib: true', 'Tag: py3-none-any', ''].join('\n'),
  };
  const record = Object.entries(files).map(([p, d]) => `${p},${recordHash(d)},${Buffer.byteLength(d)}`);
  files[`${dist}/RECORD`] = [...record, `${dist}/RECORD,,`, ''].join('\n');
  return [`${mod}-${w.version}-py3-none-any.whl`, zip(files)];
}

const normalise = (name: string) => name.toLowerCase().replace(/[-_.]+/g, '-');

export interface PackageIndex {
  readonly url: string;
  /** Paths requested, in order. */
  readonly requests: string[];
  add(w: WheelSpec): void;
  close(): Promise<void>;
}

/** A PEP 503 index on 127.0.0.1 serving `wheels` (more can be added while it runs). */
export async function startIndex(wheels: readonly WheelSpec[] = []): Promise<PackageIndex> {
  const projects = new Map<string, Map<string, Buffer>>();
  const add = (w: WheelSpec) => {
    const [file, bytes] = wheel(w);
    const key = normalise(w.name);
    if (!projects.has(key)) projects.set(key, new Map());
    projects.get(key)?.set(file, bytes);
  };
  wheels.forEach(add);
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    const m = /^\/simple\/([^/]+)\/?$/.exec(url);
    if (url === '/simple/' || url === '/simple') {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!DOCTYPE html><html><body>${[...projects.keys()].map((p) => `<a href="/simple/${p}/">${p}</a>`).join('\n')}</body></html>`);
      return;
    }
    if (m?.[1]) {
      const files = projects.get(normalise(decodeURIComponent(m[1])));
      if (!files) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found');
        return;
      }
      const links = [...files.entries()].map(([f, b]) => `<a href="/files/${f}#sha256=${createHash('sha256').update(b).digest('hex')}">${f}</a>`);
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!DOCTYPE html><html><body>\n${links.join('\n')}\n</body></html>`);
      return;
    }
    const f = /^\/files\/([^/]+)$/.exec(url);
    for (const files of projects.values()) {
      const bytes = f?.[1] ? files.get(f[1]) : undefined;
      if (bytes) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes.length });
        res.end(bytes);
        return;
      }
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}/simple/`,
    requests,
    add,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** Debian's interpreter: tests never use whatever python3 comes first on PATH. */
export const SYSTEM_PYTHON = '/usr/bin/python3';
