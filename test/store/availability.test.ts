/**
 * A transaction that cannot begin leaves nothing behind (issue 21, item 1): with another connection holding
 * SQLite's write lock, `tx()` fails as `unavailable` (not after the lock is gone: "nested transactions are
 * not supported" was every later transaction's fate), and works again as soon as the lock is released.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { KairosError } from '../../src/model/errors.js';
import { openSqlite } from '../../src/store/db.js';
import { unavailableReason } from '../../src/store/availability.js';
import { tempDir, waitFor } from '../helpers.js';

test('a BEGIN refused by another process\'s lock leaves no state behind; the store works once it is released', async () => {
  const dir = tempDir();
  const file = join(dir.path, 'kairos.db');
  const db = await openSqlite(file, { busyTimeoutMs: 200 });
  const other = new SqliteDatabase(file);
  try {
    const write = () => db.tx((trx) => trx.insertInto('workers').values({ id: `w${Math.random()}`, host: 'h', pools_json: '[]', capacity: 1, version: 't', started_at: 1, heartbeat_at: 1, stopped_at: null }).execute());
    other.exec('BEGIN EXCLUSIVE');
    for (let i = 0; i < 3; i++) {
      await assert.rejects(write(), (err: unknown) => err instanceof KairosError && err.code === 'unavailable' && unavailableReason(err) === 'busy');
    }
    assert.equal(db.availability.down, true);
    other.exec('COMMIT');
    // Writes go through again (after the fail-fast window of a second at most that follows a busy error).
    await waitFor('a write to go through', () => write().then(() => true, () => false), 10_000, 100);
    await write();
    assert.equal(db.availability.down, false);
    assert.equal(db.availability.recoveryPending, true, 'the outage is remembered until leases are extended');
  } finally {
    other.close();
    await db.close();
    dir.cleanup();
  }
});

test('errors are classified: busy, full, a PostgreSQL server gone; anything else is not an availability problem', () => {
  const e = (code: string, message = 'x') => Object.assign(new Error(message), { code });
  assert.equal(unavailableReason(e('SQLITE_BUSY')), 'busy');
  assert.equal(unavailableReason(e('SQLITE_FULL')), 'disk_full');
  assert.equal(unavailableReason(e('ECONNREFUSED')), 'down');
  assert.equal(unavailableReason(e('57P01')), 'down');
  assert.equal(unavailableReason(e('53100')), 'disk_full');
  assert.equal(unavailableReason(new Error('Connection terminated unexpectedly')), 'down');
  assert.equal(unavailableReason(e('23505')), null);
  assert.equal(unavailableReason(e('SQLITE_CONSTRAINT_UNIQUE')), null);
  assert.equal(unavailableReason(new KairosError('stale_lease', 'x')), null);
});
