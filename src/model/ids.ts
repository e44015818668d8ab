import { randomBytes, randomFillSync } from 'node:crypto';

/**
 * Random bytes from a pool filled 4 KiB at a time (as uuid and nanoid do): a run takes three ids and a lease
 * token, and a call to the system's generator for each cost more than the bytes.
 */
const POOL = Buffer.allocUnsafe(4096);
let poolAt = POOL.length;
function random(n: number): Buffer {
  if (n > POOL.length) return randomBytes(n);
  if (poolAt + n > POOL.length) {
    randomFillSync(POOL);
    poolAt = 0;
  }
  const out = Buffer.from(POOL.subarray(poolAt, poolAt + n));
  POOL.fill(0, poolAt, poolAt + n);
  poolAt += n;
  return out;
}

// Crockford base32, lower-case: sortable by creation time like a ULID, easy to copy from a terminal.
const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

let lastMs = -1;
let lastRandom: Uint8Array = new Uint8Array(10);

function encode(bytes: Uint8Array, chars: number): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
  return out.slice(0, chars);
}

/** A ULID-shaped id (26 chars): 48 bits of time then 80 random bits, monotonic within one process. */
export function newId(nowMs: number = Date.now()): string {
  let rnd: Uint8Array;
  if (nowMs === lastMs) {
    rnd = Uint8Array.from(lastRandom);
    for (let i = rnd.length - 1; i >= 0; i--) {
      rnd[i] = ((rnd[i] ?? 0) + 1) & 0xff;
      if (rnd[i] !== 0) break;
    }
  } else {
    rnd = random(10);
  }
  lastMs = nowMs;
  lastRandom = rnd;
  // 48 bits of time → 10 chars, most significant first; 80 random bits → 16 chars.
  let timePart = '';
  let t = nowMs;
  for (let i = 0; i < 10; i++) {
    timePart = ALPHABET[t % 32] + timePart;
    t = Math.floor(t / 32);
  }
  return timePart + encode(rnd, 16);
}

/** An opaque secret token (lease tokens, API tokens). */
export function newToken(bytes = 24): string {
  return random(bytes).toString('base64url');
}

export const ID_PATTERN = /^[0-9a-hjkmnp-tv-z]{26}$/;
