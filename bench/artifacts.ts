/**
 * `npm run bench:artifacts`: upload and download throughput of a 1 GiB artifact through the artifact store,
 * against copying the same file on the same disk. Stores: the local directory (the default) and S3 (s3rver on
 * loopback, through the AWS SDK: multipart, 16 MiB parts, 4 at a time). Upload = `putFile` (hash, then store);
 * download = `get` written to a file (every byte hashed and checked). Writes bench/results-artifacts.json and
 * its section of docs/benchmarks.md.
 */
import { createCipheriv, createHash } from 'node:crypto';
import { createWriteStream, closeSync, copyFileSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { S3ArtifactStore } from '../src/artifacts/s3.js';
import { openArtifactStore, type ArtifactStore } from '../src/artifacts/store.js';
import { startS3Server } from '../test/artifacts/s3-server.js';
import { writeDocSection, writeResults } from './report.js';

const BYTES = Number(process.env.KAIROS_BENCH_ARTIFACT_BYTES ?? 1024 * 1024 * 1024);
const MB = 1e6;

function makeFile(path: string): void {
  const cipher = createCipheriv('aes-128-ctr', createHash('sha256').update('bench').digest().subarray(0, 16), Buffer.alloc(16));
  const fd = openSync(path, 'w');
  const zero = Buffer.alloc(8 * 1024 * 1024);
  for (let left = BYTES; left > 0; left -= zero.length) writeSync(fd, cipher.update(left >= zero.length ? zero : zero.subarray(0, left)));
  closeSync(fd);
}

async function timed(f: () => Promise<void> | void): Promise<number> {
  const t0 = performance.now();
  await f();
  return (performance.now() - t0) / 1000;
}

async function measure(store: ArtifactStore, file: string, out: string): Promise<{ upload: number; download: number }> {
  let sha = '';
  const upload = await timed(async () => {
    sha = (await store.putFile(file)).sha256;
  });
  const download = await timed(async () => {
    await pipeline(await store.get(sha), createWriteStream(out));
  });
  rmSync(out, { force: true });
  await store.delete(sha);
  return { upload, download };
}

const dir = mkdtempSync(join(process.env.KAIROS_BENCH_DIR ?? tmpdir(), 'kairos-bench-art-'));
try {
  const file = join(dir, 'artifact.bin');
  makeFile(file);
  const copy = await timed(() => copyFileSync(file, join(dir, 'copy.bin')));
  rmSync(join(dir, 'copy.bin'));
  const local = await measure(openArtifactStore({ dataDir: join(dir, 'data') }), file, join(dir, 'out.bin'));
  const s3server = await startS3Server(['bench']);
  let s3: { upload: number; download: number };
  try {
    const store = new S3ArtifactStore({ bucket: 'bench', prefix: 'a', endpoint: s3server.endpoint, region: 'us-east-1', pathStyle: true, stateDir: join(dir, 's3state'), credentials: { accessKeyId: s3server.accessKeyId, secretAccessKey: s3server.secretAccessKey } });
    s3 = await measure(store, file, join(dir, 'out.bin'));
  } finally {
    await s3server.stop();
  }
  const mbps = (s: number) => BYTES / MB / s;
  const results = { date: new Date().toISOString(), bytes: BYTES, cores: cpus().length, node: process.version, copySeconds: copy, local, s3 };
  writeResults('results-artifacts.json', results);
  const row = (what: string, s: number) => `| ${what} | ${s.toFixed(2)} | ${mbps(s).toFixed(0)} | ${(s / copy).toFixed(1)}× |`;
  writeDocSection(
    'bench/artifacts.ts',
    `## Artifacts: a ${(BYTES / 2 ** 30).toFixed(2)} GiB file into the store and back

Measured by \`npm run bench:artifacts\` (bench/artifacts.ts); raw figures in \`bench/results-artifacts.json\`. One file of
random bytes on the same disk as the stores. Upload is \`putFile\` (the file is hashed, then stored under its
SHA-256: a copy through a temporary file and a rename for the local store; a multipart upload of 16 MiB parts,
4 at a time, each with its Content-MD5, for S3). Download is \`get\` written to a file, every byte hashed and the
hash checked at the end. S3 is s3rver on loopback (a test server in Node.js, far slower than a real S3 service;
it stands for the protocol cost, not for AWS). Machine: ${cpus().length} cores, Node ${process.version}; run on ${results.date.slice(0, 10)}, one round.

| operation | seconds | MB/s | vs copying the file |
| --- | ---: | ---: | ---: |
${row('copy the file on the same disk (copyFileSync)', copy)}
${row('local store: upload', local.upload)}
${row('local store: download (verified)', local.download)}
${row('S3 (s3rver): upload', s3.upload)}
${row('S3 (s3rver): download (verified)', s3.download)}
`,
  );
  console.log(JSON.stringify(results, null, 2));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
