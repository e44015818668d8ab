/** The scheduler refuses to start on a tz database older than its minimum. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertTzdata, compareTzdataVersions, MIN_TZDATA_VERSION } from '../../src/control/tzdata.js';
import { tzdataVersion } from '../../src/model/cron/index.js';

test('tz database versions order by year, then by letters', () => {
  assert.equal(compareTzdataVersions('2025c', '2024a'), 1);
  assert.equal(compareTzdataVersions('2024a', '2024a'), 0);
  assert.equal(compareTzdataVersions('2023c', '2024a'), -1);
  assert.equal(compareTzdataVersions('2024b', '2024a'), 1);
  assert.equal(compareTzdataVersions('2024z', '2024za'), -1, 'after z comes za');
  assert.equal(compareTzdataVersions('2030a', '2024z'), 1);
  assert.equal(compareTzdataVersions('unknown', '2024a'), null);
  assert.equal(compareTzdataVersions('2024', '2024a'), null);
});

test('an old or unknown tz database is refused with a clear error; this Node.js passes', () => {
  assert.throws(() => assertTzdata('2023c'), /tz database of this Node\.js is 2023c, older than 2024a.*upgrade Node\.js/);
  assert.throws(() => assertTzdata('unknown'), /cannot tell the tz database version/);
  assert.doesNotThrow(() => assertTzdata('2024a'));
  assert.doesNotThrow(() => assertTzdata(), `this Node.js has tz ${tzdataVersion()}, minimum ${MIN_TZDATA_VERSION}`);
});
