/** Masking secret values in log text: the forms a value is printed in, and values that arrive in pieces. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter } from '../../src/worker/lines.js';
import { MASK, Masker, MaskStream } from '../../src/worker/mask.js';

const SECRET = 's3cr3t-Pa55word!';

test('a value printed whole is masked, wherever it is in the line and however often', () => {
  const m = new Masker([SECRET]);
  assert.equal(m.mask(`token=${SECRET}`), `token=${MASK}`);
  assert.equal(m.mask(`${SECRET}${SECRET} and ${SECRET}`), `${MASK} and ${MASK}`);
  assert.equal(m.mask('nothing to see'), 'nothing to see');
});

test('overlapping secrets, and a secret that is a prefix of another, leave nothing of either', () => {
  const m = new Masker(['abcdefgh', 'abcd', 'efghijkl']);
  assert.equal(m.mask('x abcdefghijkl y'), `x ${MASK} y`);
  assert.equal(m.mask('x abcd y'), `x ${MASK} y`);
  assert.equal(m.mask('x abcdefgh y'), `x ${MASK} y`);
  // Overlapping occurrences of one value.
  const a = new Masker(['aaaa']);
  assert.equal(a.mask('baaaaab'), `b${MASK}b`);
});

test('a multi-line value (a PEM key) is masked whole and line by line wherever its lines appear', () => {
  const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n-----END PRIVATE KEY-----\n';
  const m = new Masker([pem]);
  const printed = pem.split('\n').map((l) => m.mask(l));
  assert.deepEqual(printed, [MASK, MASK, MASK, MASK, '']);
  assert.equal(m.mask('key line: BKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj (copied)'), `key line: ${MASK} (copied)`);
  assert.equal(m.mask(JSON.stringify({ key: pem })), `{"key":"${MASK}"}`);
});

test('base64 of a value is masked, standard and url-safe, at each of the three alignments inside longer base64', () => {
  const value = 'p>?~secret~?<q';
  const m = new Masker([value]);
  for (const prefix of ['', 'a', 'ab', 'abc', 'abcd']) {
    const bytes = Buffer.from(`${prefix}${value}-and-some-trailing-data`);
    for (const enc of [bytes.toString('base64'), bytes.toString('base64url')]) {
      const masked = m.mask(`blob: ${enc}`);
      assert.ok(masked.includes(MASK), `masked with prefix "${prefix}": ${masked}`);
      // What remains cannot be decoded back into the value.
      const rest = masked.slice('blob: '.length).split(MASK).join('');
      assert.ok(!Buffer.from(rest, 'base64').toString('latin1').includes('secret'), `nothing of the value is left: ${masked}`);
    }
  }
});

test('JSON-encoded values are masked: escaped quotes, backslashes, newlines, and unicode as \\uXXXX', () => {
  const value = 'pa"ss\\wo\nrd-é-☃';
  const m = new Masker([value]);
  assert.equal(m.mask(JSON.stringify({ password: value })), `{"password":"${MASK}"}`);
  // Python's json.dumps escapes every non-ASCII character.
  const python = '"pa\\"ss\\\\wo\\nrd-\\u00e9-\\u2603"';
  assert.equal(m.mask(python), `"${MASK}"`);
  assert.equal(m.mask(python.toUpperCase().replace('PA', 'pa')), python.toUpperCase().replace('PA', 'pa'), 'a different string is left alone');
});

test('a value among invalid UTF-8 bytes is still masked once the line is decoded', () => {
  const m = new Masker([SECRET]);
  const lines: string[] = [];
  const split = new LineSplitter((l) => lines.push(m.mask(l)));
  split.push(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(SECRET), Buffer.from([0xc3]), Buffer.from('\n')]));
  split.push(Buffer.concat([Buffer.from(SECRET.slice(0, 5)), Buffer.from([0x80])]));
  split.push(Buffer.concat([Buffer.from(SECRET.slice(5)), Buffer.from([0xe2, 0x82])]));
  split.end();
  assert.equal(lines[0], `\ufffd\ufffd${MASK}\ufffd`);
  assert.ok(!lines.join('\n').includes(SECRET));
  // A value cut by an invalid byte is not the value: that line is left as it was printed.
  assert.equal(lines[1], `${SECRET.slice(0, 5)}\ufffd${SECRET.slice(5)}\ufffd`);
});

function collect(m: Masker, holdMs = 1000, now?: () => number) {
  const out: [string, boolean][] = [];
  const s = new MaskStream(m, (t, end) => out.push([t, end]), holdMs, now);
  return { s, out, text: () => out.map(([t, end]) => t + (end ? '\n' : '')).join('') };
}

test('a value split across two pieces of a line is masked: the tail that may start it is held until the line ends', () => {
  const m = new Masker(['secret-value']);
  const { s, out, text } = collect(m);
  s.write('the value is secr', false);
  assert.ok(out.every(([t]) => !t.includes('secr')), 'the start of the value was held back');
  s.write('et-value, done', true);
  assert.equal(text(), `the value is ${MASK}, done\n`);
});

test('pieces held back longer than the hold limit are let out, masking a trailing start of a value and its completion', () => {
  let now = 0;
  const m = new Masker(['secret-value']);
  const { s, text } = collect(m, 1000, () => now);
  s.write('progress 10% secr', false);
  now = 1500;
  s.release();
  assert.equal(text(), `progress 10% ${MASK}`);
  s.write('et-value done', true);
  assert.equal(text(), `progress 10% ${MASK}${MASK} done\n`);
});

test('a held tail is let out by its timer within the hold limit when nothing else arrives', async () => {
  const m = new Masker(['secret-value']);
  const { s, text } = collect(m, 50);
  s.write('waiting for input: ', false);
  const started = Date.now();
  while (!text().includes('input')) await new Promise((r) => setTimeout(r, 10));
  assert.ok(Date.now() - started < 1000);
  assert.equal(text(), 'waiting for input: ');
});

test('a piece that cannot start a value is passed on at once, except a tail shorter than the longest value', () => {
  const m = new Masker(['0123456789']);
  const { s, out } = collect(m);
  s.write('a'.repeat(100), false);
  const shown = out.map(([t]) => t).join('');
  assert.ok(shown.length >= 100 - (m.longest - 1), `passed on ${shown.length} of 100`);
});

test('a value across the cut of an over-long line (LineSplitter pieces) is masked', () => {
  const m = new Masker([SECRET]);
  const { s, text } = collect(m);
  const split = new LineSplitter((l, more) => s.write(l, !more));
  const long = 'x'.repeat(16 * 1024 - 5) + SECRET + 'y'.repeat(100) + '\n';
  split.push(Buffer.from(long));
  assert.equal(text(), 'x'.repeat(16 * 1024 - 5) + MASK + 'y'.repeat(100) + '\n');
});

test('values shorter than four characters give no form to look for (they are refused when set)', () => {
  const m = new Masker(['abc']);
  assert.equal(m.mask('abc abc'), 'abc abc');
  assert.equal(m.longest > 0, true, 'its longer encodings (base64 of the whole) still count');
});

test('the trailing start of a value is found however the value repeats itself, and quickly for a 64 KiB value', () => {
  const m = new Masker(['abcabcabd-tail']);
  assert.deepEqual(m.trailingStart('xx abcabcab'), { length: 8, rests: ['d-tail'] });
  assert.equal(m.trailingStart('xx ab').length, 0, 'two characters are not enough to mask');
  const big = Array.from({ length: 64 * 1024 }, (_, i) => String.fromCharCode(65 + ((i * 7919) % 26))).join('');
  const large = new Masker([big]);
  const started = performance.now();
  const { s, text } = collect(large, 1000);
  s.write('prefix ' + big.slice(0, 60_000), false);
  s.release();
  s.write(big.slice(60_000) + ' suffix', true);
  assert.equal(text(), `prefix ${MASK}${MASK} suffix\n`);
  assert.ok(performance.now() - started < 2000, `took ${Math.round(performance.now() - started)} ms`);
});
