/** Sealing secret values: AES-256-GCM with the project and name bound, and the key's loading rules (real files). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadSecretKey, open, seal } from '../../src/control/secret-box.js';
import { tempDir } from '../helpers.js';

test('a sealed value opens only with its key, project and name, and two seals of one value differ', () => {
  const dir = tempDir();
  try {
    const key = loadSecretKey(dir.path, {});
    const sealed = seal(key, 'proj', 'DB_PASSWORD', 'hunter2-and-more');
    assert.ok(!sealed.includes('hunter2'));
    assert.notEqual(seal(key, 'proj', 'DB_PASSWORD', 'hunter2-and-more'), sealed, 'a fresh nonce each time');
    assert.equal(open(key, 'proj', 'DB_PASSWORD', sealed), 'hunter2-and-more');
    assert.throws(() => open(key, 'proj', 'OTHER', sealed), 'moved to another name');
    assert.throws(() => open(key, 'other', 'DB_PASSWORD', sealed), 'moved to another project');
    const other = loadSecretKey(dir.path, { KAIROS_SECRET_KEY: Buffer.alloc(32, 1).toString('base64') });
    assert.notEqual(other.id, key.id);
    assert.throws(() => open(other, 'proj', 'DB_PASSWORD', sealed), 'another key');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    raw[raw.length - 20] = (raw[raw.length - 20] ?? 0) ^ 1;
    assert.throws(() => open(key, 'proj', 'DB_PASSWORD', 'v1:' + raw.toString('base64')), 'tampered');
  } finally {
    dir.cleanup();
  }
});

test('the key file is generated once with mode 0600 and reused; an exposed one is refused', () => {
  const dir = tempDir();
  try {
    const first = loadSecretKey(dir.path, {});
    const file = join(dir.path, 'secret.key');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(loadSecretKey(dir.path, {}).id, first.id, 'the same key on the next start');
    assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32);
    chmodSync(file, 0o640);
    assert.throws(() => loadSecretKey(dir.path, {}), /readable or writable by group or others \(mode 0640\)/);
    chmodSync(file, 0o600);
    writeFileSync(file, 'not a key\n');
    assert.throws(() => loadSecretKey(dir.path, {}), /must be the base64 of 32 random bytes/);
    assert.throws(() => loadSecretKey(dir.path, { KAIROS_SECRET_KEY: Buffer.alloc(16).toString('base64') }), /KAIROS_SECRET_KEY must be the base64 of 32/);
  } finally {
    dir.cleanup();
  }
});
