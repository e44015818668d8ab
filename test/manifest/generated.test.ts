/**
 * The JSON Schema, the reference page and the init template are generated from the one manifest schema;
 * these tests keep the outputs in step with it (and docs/manifest.md in step with the code).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { ROOT } from '../helpers.js';
import { parseDuration } from '../../src/model/duration.js';
import { DURATION_PATTERN } from '../../src/manifest/fields.js';
import { PROBLEM_CODES, initTemplate, manifestJsonSchema, manifestReferenceMarkdown } from '../../src/manifest/index.js';

const FULL_EXAMPLE = {
  $schema: './kairos.schema.json',
  project: 'demo',
  defaults: { timezone: 'Europe/Paris', timeout: '2h', grace: '30s', retries: { max: 2, delay: '1m' }, pool: 'cpu' },
  pools: { cpu: { concurrency: 4 }, gpu: {} },
  environments: { py311: { python: '3.11' } },
  jobs: {
    train: {
      description: 'Trains the model',
      run: ['python', 'train.py'],
      schedule: { cron: '0 3 * * *', timezone: 'UTC', catchup: 'all', concurrency: 'queue', max_catchup: 10 },
      params: { day: { type: 'date', required: true }, split: { enum: ['train', 'test'], default: 'test', description: 'Which split' } },
      env: { THREADS: 4, DEBUG: false },
      timeout: '1h',
      grace: '5s',
      retries: 3,
      pool: 'gpu',
      resources: { cpu: 2, memory: '8Gi', gpu: 1 },
      secrets: ['API_KEY'],
      workdir: 'ml',
      environment: 'py311',
    },
  },
};

describe('JSON Schema', () => {
  const schema = manifestJsonSchema();

  test('is draft 2020-12 JSON with a title', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(typeof schema.title, 'string');
    assert.deepEqual(JSON.parse(JSON.stringify(schema)), schema);
  });

  test('accepts a full valid example and the init template, refuses typos', () => {
    const validator = z.fromJSONSchema(schema);
    assert.ok(validator.safeParse(FULL_EXAMPLE).success);
    assert.ok(validator.safeParse(parseYaml(initTemplate('demo'))).success);
    assert.equal(validator.safeParse({ ...FULL_EXAMPLE, jobz: {} }).success, false);
    assert.equal(validator.safeParse({ project: 'demo', jobs: { 'bad name': { run: 'x' } } }).success, false);
    assert.equal(validator.safeParse({ project: 'demo', jobs: { a: { run: 'x', timeout: '5 minutes' } } }).success, false);
  });

  test('describes every key it lists', () => {
    const undescribed: string[] = [];
    const walk = (node: unknown, path: string) => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      if (typeof n.properties === 'object' && n.properties !== null) {
        for (const [key, child] of Object.entries(n.properties)) {
          if (typeof (child as Record<string, unknown>).description !== 'string') undescribed.push(`${path}.${key}`);
        }
      }
      for (const [k, v] of Object.entries(n)) walk(v, `${path}/${k}`);
    };
    walk(schema, '');
    assert.deepEqual(undescribed, []);
  });
});

describe('reference page', () => {
  test('docs/manifest.md is the generated reference', () => {
    const onDisk = readFileSync(join(ROOT, 'docs', 'manifest.md'), 'utf8');
    assert.ok(
      onDisk === manifestReferenceMarkdown(),
      'docs/manifest.md is stale: regenerate it with node -e "import(\'./dist/src/manifest/index.js\').then(m => process.stdout.write(m.manifestReferenceMarkdown()))" > docs/manifest.md',
    );
  });

  test('lists every top-level and job key and every problem code', () => {
    const md = manifestReferenceMarkdown();
    for (const key of ['project', 'defaults', 'pools', 'environments', 'jobs', 'run', 'schedule', 'params', 'env', 'timeout', 'retries', 'pool', 'resources', 'secrets', 'workdir', 'environment', 'catchup', 'concurrency', 'max_catchup', 'backoff', 'jitter']) {
      assert.match(md, new RegExp(`\\| \`${key}\` \\|`), key);
    }
    for (const code of Object.keys(PROBLEM_CODES)) assert.match(md, new RegExp(`\\| \`${code}\` \\|`), code);
  });
});

test('the schema\'s duration pattern agrees with the duration parser', () => {
  for (const text of ['30s', '10m', '2h', '1d', '500ms', '1h30m', '1.5h', '0s', '', '5', '5 minutes', '1h 30m', 'm', '-1s', '1w', '2H']) {
    assert.equal(DURATION_PATTERN.test(text), parseDuration(text) !== null, text);
  }
});
