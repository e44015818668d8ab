/**
 * The METADATA file of a wheel (a zip), read from its central directory without unpacking the rest: served as
 * the PEP 658 `.metadata` file, and checked against the name and version of the upload.
 */
import { inflateRawSync } from 'node:zlib';

const MAX_METADATA = 4 * 1024 * 1024;

/** The bytes of `*.dist-info/METADATA` at the top of the wheel, or null when the archive has none. */
export function wheelMetadata(zip: Buffer): Buffer | null {
  // End of central directory: the last 22 bytes plus a comment of up to 64 KiB.
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return null;
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let n = 0; n < count && at + 46 <= zip.length; n++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) return null;
    const method = zip.readUInt16LE(at + 10);
    const packed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLen = zip.readUInt16LE(at + 28);
    const extraLen = zip.readUInt16LE(at + 30);
    const commentLen = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    at += 46 + nameLen + extraLen + commentLen;
    if (!/^[^/]+\.dist-info\/METADATA$/.test(name)) continue;
    if (size > MAX_METADATA || local + 30 > zip.length || zip.readUInt32LE(local) !== 0x04034b50) return null;
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + packed);
    if (method === 0) return Buffer.from(data);
    if (method === 8) return inflateRawSync(data, { maxOutputLength: MAX_METADATA });
    return null;
  }
  return null;
}

/** The first value of each header of a core-metadata file (RFC 822 style), lowercase keys. */
export function metadataFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === '') break;
    const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
    if (m?.[1] && !out.has(m[1].toLowerCase())) out.set(m[1].toLowerCase(), (m[2] ?? '').trim());
  }
  return out;
}
