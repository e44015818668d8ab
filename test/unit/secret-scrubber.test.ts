/** The worker takes a service's secret out of its answers however the bytes are cut (docs/services.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretScrubber } from '../../src/worker/service.js';

test("a service's secret is cut out of a stream whatever the chunk boundaries", () => {
  const secret = 'S3cr3t-token-value';
  const text = `a ${secret} b ${secret}${secret} c token=${secret.slice(0, 5)} end ${secret}`;
  const expected = text.split(secret).join('');
  for (let size = 1; size <= text.length; size++) {
    const s = new SecretScrubber(secret);
    const out: Buffer[] = [];
    for (let i = 0; i < text.length; i += size) out.push(s.push(Buffer.from(text.slice(i, i + size))));
    out.push(s.end());
    assert.equal(Buffer.concat(out).toString(), expected, `chunks of ${size}`);
  }
});
