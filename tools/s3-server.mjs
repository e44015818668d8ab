#!/usr/bin/env node
/**
 * A real S3-protocol server for tests and benchmarks: s3rver (a devDependency) on loopback, with the given
 * buckets, storing under DIR. It checks request signatures against its one account (access key S3RVER, secret
 * S3RVER), so wrong credentials are refused as AWS refuses them.
 *
 *   node tools/s3-server.mjs --dir DIR [--port N] [--bucket NAME]...
 *
 * Prints one JSON line `{"port": N}` once it listens; stops on SIGTERM/SIGINT or when its stdin closes (so a
 * test that dies does not leave it behind).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import S3rver from 's3rver';

/**
 * s3rver checks that the access key exists but not the signature: this checks AWS Signature Version 4 (the
 * Authorization header the SDK sends) against the account's secret, so a wrong secret is refused with
 * SignatureDoesNotMatch as AWS refuses it.
 */
const SECRETS = { S3RVER: 'S3RVER' };
const enc = (s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key, data) => createHmac('sha256', key).update(data).digest();
function signatureError(ctx, code, message) {
  ctx.status = 403;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
}
async function verifySigV4(ctx, next) {
  const auth = ctx.get('authorization');
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return next();
  const [, keyId, date, region, service, signedHeaders, signature] = m;
  const secret = SECRETS[keyId];
  if (secret === undefined) return next(); // s3rver answers InvalidAccessKeyId
  const raw = ctx.req.url ?? '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const query = q < 0 ? '' : raw.slice(q + 1);
  const pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('=');
      const k = decodeURIComponent((i < 0 ? p : p.slice(0, i)).replace(/\+/g, '%20'));
      const v = i < 0 ? '' : decodeURIComponent(p.slice(i + 1).replace(/\+/g, '%20'));
      return [enc(k), enc(v)];
    })
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  const names = signedHeaders.split(';');
  const headers = names.map((n) => `${n}:${String(ctx.req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payload = ctx.get('x-amz-content-sha256') || 'UNSIGNED-PAYLOAD';
  const canonical = [ctx.method, path, pairs.map(([k, v]) => `${k}=${v}`).join('&'), headers, signedHeaders, payload].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', ctx.get('x-amz-date'), scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), 'aws4_request');
  const expected = hmac(key, toSign).toString('hex');
  if (!timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) {
    return signatureError(ctx, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  }
  return next();
}

const args = process.argv.slice(2);
let dir;
let port = 0;
const buckets = [];
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--dir') dir = args[++i];
  else if (a === '--port') port = Number(args[++i]);
  else if (a === '--bucket') buckets.push(args[++i]);
  else {
    console.error(`s3-server: unknown argument ${a}`);
    process.exit(2);
  }
}
if (!dir) {
  console.error('s3-server: --dir DIR is required');
  process.exit(2);
}
const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory: dir, configureBuckets: buckets.map((name) => ({ name })) });
// Before s3rver's own middleware (Koa composes the list when the server starts listening).
server.middleware.unshift(verifySigV4);
const { port: bound } = await server.run();
process.stdout.write(`${JSON.stringify({ port: bound })}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
