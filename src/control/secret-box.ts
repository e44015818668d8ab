/**
 * The server's secret key and sealing with it: AES-256-GCM (node:crypto), a random 96-bit nonce per value,
 * and the secret's project and name bound as associated data, so a sealed value copied onto another row
 * (another project or name) fails to open instead of handing out the wrong secret.
 *
 * The key is KAIROS_SECRET_KEY (base64 of 32 bytes) or, without it, `<data>/secret.key`, generated on first
 * start with mode 0600. A key file that group or others can read is refused, never "fixed" silently.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KairosError } from '../model/errors.js';

export const KEY_FILE = 'secret.key';
/** The key being rotated away from, while secrets sealed with it are sealed again (docs/secrets.md). */
export const PREVIOUS_KEY_FILE = 'secret.key.previous';
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const FORMAT = 'v1:';

export interface SecretKey {
  readonly bytes: Buffer;
  /** A short fingerprint (not the key): tells which key sealed a value. */
  readonly id: string;
  /** Where it came from, for messages: "KAIROS_SECRET_KEY" or the key file's path. */
  readonly source: string;
}

function fromBase64(text: string, source: string): SecretKey {
  const t = text.trim();
  const bytes = /^[A-Za-z0-9+/]+={0,2}$/.test(t) ? Buffer.from(t, 'base64') : Buffer.alloc(0);
  if (bytes.length !== KEY_BYTES) {
    // Never echo the value: it is (meant to be) a key.
    throw new KairosError('invalid_input', `${source} must be the base64 of ${KEY_BYTES} random bytes (e.g. the output of \`openssl rand -base64 32\`); it is not`);
  }
  return { bytes, id: createHash('sha256').update(bytes).digest('hex').slice(0, 16), source };
}

/** Loads the key from the environment or the data directory, generating the key file on first use. */
export function loadSecretKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretKey {
  const fromEnv = env.KAIROS_SECRET_KEY;
  if (fromEnv !== undefined && fromEnv !== '') return fromBase64(fromEnv, 'KAIROS_SECRET_KEY');
  const file = join(dataDir, KEY_FILE);
  return readKeyFile(file) ?? createKeyFile(dataDir, file);
}

/** The previous key, during a rotation: KAIROS_SECRET_KEY_PREVIOUS, else `<data>/secret.key.previous`; null when neither. */
export function loadPreviousKey(dataDir: string, env: NodeJS.ProcessEnv = process.env): SecretKey | null {
  const fromEnv = env.KAIROS_SECRET_KEY_PREVIOUS;
  if (fromEnv !== undefined && fromEnv !== '') return fromBase64(fromEnv, 'KAIROS_SECRET_KEY_PREVIOUS');
  return readKeyFile(join(dataDir, PREVIOUS_KEY_FILE));
}

/** A key file's key; null when there is no such file; an error when it is exposed or not a key. */
function readKeyFile(file: string): SecretKey | null {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return null;
  }
  if (!st.isFile()) throw new KairosError('invalid_input', `${file} is not a regular file; move it away (a new key is then generated) or set KAIROS_SECRET_KEY`);
  if ((st.mode & 0o077) !== 0) {
    throw new KairosError(
      'invalid_input',
      `refusing to use the secret key ${file}: it is readable or writable by group or others (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')}); run \`chmod 600 ${file}\` if nobody else could have read it, else rotate your secrets (docs/secrets.md)`,
    );
  }
  return fromBase64(readFileSync(file, 'utf8'), file);
}

function createKeyFile(dataDir: string, file: string): SecretKey {
  mkdirSync(dataDir, { recursive: true });
  const text = randomBytes(KEY_BYTES).toString('base64') + '\n';
  let fd: number;
  try {
    // O_EXCL: two servers starting at once on one data directory end up with the same key, not two.
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return loadSecretKey(dataDir, {});
    throw err;
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  return fromBase64(text, file);
}

function aad(project: string, name: string): Buffer {
  // Length-prefixed, so ("ab", "C") and ("a", "BC") differ.
  return Buffer.from(`kairos-secret\0${project.length}:${project}\0${name}`);
}

/** Seals a value for (project, name). */
export function seal(key: SecretKey, project: string, name: string, value: string): string {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key.bytes, nonce);
  cipher.setAAD(aad(project, name));
  const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return FORMAT + Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

/** Opens a sealed value of (project, name); throws (without any of the value) when it cannot. */
export function open(key: SecretKey, project: string, name: string, sealed: string): string {
  if (!sealed.startsWith(FORMAT)) throw new Error('unknown sealed format');
  const raw = Buffer.from(sealed.slice(FORMAT.length), 'base64');
  if (raw.length < NONCE_BYTES + TAG_BYTES) throw new Error('sealed value too short');
  const decipher = createDecipheriv('aes-256-gcm', key.bytes, raw.subarray(0, NONCE_BYTES));
  decipher.setAAD(aad(project, name));
  decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
  return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
}
