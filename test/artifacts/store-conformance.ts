/**
 * One conformance suite for every artifact store (src/artifacts/store.ts): the local directory and S3 (a real
 * S3-protocol server) must behave the same through the interface the server, workers and snapshots use.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { type ArtifactStore, IntegrityError } from '../../src/artifacts/store.js';
import { KairosError } from '../../src/model/errors.js';

export interface Harness {
  store: ArtifactStore;
  /** A scratch directory for files to put. */
  dir: string;
  /** Replaces a stored blob's bytes behind the store's back (to show reads are verified). */
  corrupt(sha256: string, bytes: Buffer): Promise<void>;
}

export const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Deterministic bytes (so a failure can be reproduced) that do not compress: AES-CTR over zeros. */
export function bytesOf(size: number, seed: number): Buffer {
  const key = createHash('sha256').update(String(seed)).digest().subarray(0, 16);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size));
}

export function storeConformance(name: string, harness: () => Harness): void {
  test(`${name}: put, head, get, list, dedupe`, async () => {
    const { store, dir } = harness();
    const body = Buffer.from('id,value\n1,2\n3,4\n');
    const file = join(dir, 'small.csv');
    writeFileSync(file, body);
    assert.equal(await store.head(sha(body)), null);
    const info = await store.putFile(file);
    assert.deepEqual(info, { sha256: sha(body), size: body.length });
    assert.deepEqual(await store.head(info.sha256), info);
    assert.deepEqual(await buffer(await store.get(info.sha256)), body);
    const again = await store.putFile(file, info);
    assert.deepEqual(again, info, 'the same bytes are stored once');
    const listed: string[] = [];
    for await (const b of store.list()) {
      listed.push(b.sha256);
      if (b.sha256 === info.sha256) assert.equal(b.size, body.length);
    }
    assert.ok(listed.includes(info.sha256), 'list shows the blob');
    assert.equal(listed.filter((s) => s === info.sha256).length, 1);
    await store.check();
  });

  test(`${name}: streams, the empty blob, and refused bytes`, async () => {
    const { store } = harness();
    const body = randomBytes(70_000);
    const info = await store.putStream(Readable.from([body.subarray(0, 1000), body.subarray(1000)]), { sha256: sha(body) });
    assert.deepEqual(info, { sha256: sha(body), size: body.length });
    assert.deepEqual(await buffer(await store.get(info.sha256)), body);

    const empty = await store.putStream(Readable.from([]));
    assert.equal(empty.size, 0);
    assert.equal((await buffer(await store.get(empty.sha256))).length, 0);

    const other = randomBytes(1000);
    await assert.rejects(store.putStream(Readable.from([other]), { sha256: sha(body).replace(/^./, (c) => (c === '0' ? '1' : '0')) }), IntegrityError);
    await assert.rejects(store.putStream(Readable.from([other]), { size: 999 }), IntegrityError);
    assert.equal(await store.head(sha(other)), null, 'refused bytes are not kept');
    await assert.rejects(store.head('../../etc/passwd'), (e: unknown) => e instanceof KairosError && e.code === 'invalid_input');
  });

  test(`${name}: a large file (over 5 MiB, multipart on S3), ranges, and a resumed download verified by hash`, async () => {
    const { store, dir } = harness();
    const size = 12 * 1024 * 1024 + 12_345;
    const body = bytesOf(size, 7);
    const file = join(dir, 'large.bin');
    writeFileSync(file, body);
    const info = await store.putFile(file);
    assert.deepEqual(info, { sha256: sha(body), size });
    assert.deepEqual(await store.head(info.sha256), info);
    const whole = await buffer(await store.get(info.sha256));
    assert.equal(sha(whole), info.sha256);
    // A download cut after `cut` bytes goes on with a ranged read; the joined bytes hash to the blob's name.
    const cut = 5 * 1024 * 1024 + 17;
    const head = await buffer(await store.get(info.sha256, { start: 0, end: cut - 1 }));
    assert.equal(head.length, cut);
    const tail = await buffer(await store.get(info.sha256, { start: cut }));
    assert.equal(sha(Buffer.concat([head, tail])), info.sha256);
    const mid = await buffer(await store.get(info.sha256, { start: 100, end: 199 }));
    assert.deepEqual(mid, body.subarray(100, 200));
    await assert.rejects(store.get(info.sha256, { start: size }), (e: unknown) => e instanceof KairosError && e.code === 'invalid_input');
  });

  test(`${name}: reads are checked against the hash; delete; unknown blobs`, async () => {
    const { store, dir, corrupt } = harness();
    const body = randomBytes(4096);
    const file = join(dir, 'c.bin');
    writeFileSync(file, body);
    const info = await store.putFile(file);
    const bad = Buffer.from(body);
    bad[100] = bad[100]! ^ 0xff;
    await corrupt(info.sha256, bad);
    await assert.rejects(
      buffer(await store.get(info.sha256)),
      (e: unknown) => e instanceof IntegrityError && /expected sha256/.test(e.message),
    );
    await store.delete(info.sha256);
    assert.equal(await store.head(info.sha256), null);
    await store.delete(info.sha256);
    await assert.rejects(store.get(info.sha256), (e: unknown) => e instanceof KairosError && e.code === 'not_found');
    for await (const b of store.list()) assert.notEqual(b.sha256, info.sha256);
  });
}
