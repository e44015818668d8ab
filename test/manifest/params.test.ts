/** Param values given at run time (CLI strings, API JSON) are parsed by type and checked before a run exists. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileManifestText, paramEnvName, paramEnvValue, resolveParams, type CompiledJob } from '../../src/manifest/index.js';

const job: CompiledJob = (() => {
  const text = [
    'project: demo',
    'jobs:',
    '  train:',
    '    run: python train.py',
    '    params:',
    '      day: {type: date, required: true}',
    '      epochs: {type: integer, default: 10}',
    '      rate: {type: number}',
    '      dry_run: {type: boolean, default: false}',
    '      split: {enum: [train, test, validation]}',
    '      note: {}',
    '',
  ].join('\n');
  const result = compileManifestText(text, 'kairos.yaml');
  assert.ok(result.ok);
  const train = result.manifest.jobs.train;
  assert.ok(train);
  return train;
})();

function ok(given: Record<string, unknown>): Record<string, unknown> {
  const r = resolveParams(job, given);
  if (!r.ok) assert.fail(r.errors.join('\n'));
  return r.values;
}

function errors(given: Record<string, unknown>): string[] {
  const r = resolveParams(job, given);
  assert.equal(r.ok, false, 'expected the values to be refused');
  return r.ok ? [] : r.errors;
}

describe('resolving params', () => {
  test('command-line strings are parsed by type and defaults are applied', () => {
    assert.deepEqual(ok({ day: '2024-02-29', rate: '0.5', split: 'test', note: 'hi' }), {
      day: '2024-02-29',
      rate: 0.5,
      split: 'test',
      note: 'hi',
      epochs: 10,
      dry_run: false,
    });
  });

  test('JSON values from the API are taken as they are', () => {
    assert.deepEqual(ok({ day: '2024-01-01', epochs: 3, rate: -1.25e-3, dry_run: true }), {
      day: '2024-01-01',
      epochs: 3,
      rate: -0.00125,
      dry_run: true,
    });
  });

  test('booleans accept true/false, yes/no and 1/0', () => {
    for (const [text, value] of [['true', true], ['FALSE', false], ['yes', true], ['No', false], ['1', true], ['0', false]] as const) {
      assert.equal(ok({ day: '2024-01-01', dry_run: text }).dry_run, value, text);
    }
    assert.deepEqual(errors({ day: '2024-01-01', dry_run: 'maybe' }), ['param "dry_run": expected true or false, got "maybe"']);
  });

  test('an integer refuses fractions and trailing garbage', () => {
    assert.deepEqual(errors({ day: '2024-01-01', epochs: 'abc' }), ['param "epochs": expected an integer, got "abc"']);
    assert.deepEqual(errors({ day: '2024-01-01', epochs: '1.5' }), ['param "epochs": expected an integer, got "1.5"']);
    assert.deepEqual(errors({ day: '2024-01-01', epochs: '12abc' }), ['param "epochs": expected an integer, got "12abc"']);
    assert.deepEqual(errors({ day: '2024-01-01', epochs: 1.5 }), ['param "epochs": expected an integer, got 1.5']);
    assert.equal(ok({ day: '2024-01-01', epochs: '-7' }).epochs, -7);
  });

  test('a number refuses text that is not one', () => {
    assert.deepEqual(errors({ day: '2024-01-01', rate: 'NaN' }), ['param "rate": expected a number, got "NaN"']);
    assert.deepEqual(errors({ day: '2024-01-01', rate: '' }), ['param "rate": expected a number, got ""']);
  });

  test('a date must exist on the calendar', () => {
    assert.deepEqual(errors({ day: '2023-02-29' }), ['param "day": expected a date YYYY-MM-DD, got "2023-02-29"']);
    assert.deepEqual(errors({ day: '2024-13-01' }), ['param "day": expected a date YYYY-MM-DD, got "2024-13-01"']);
    assert.deepEqual(errors({ day: '24-01-01' }), ['param "day": expected a date YYYY-MM-DD, got "24-01-01"']);
  });

  test('a value outside the enum is refused with the closest allowed one', () => {
    assert.deepEqual(errors({ day: '2024-01-01', split: 'tset' }), ['param "split": expected one of "train", "test", "validation", got "tset"; did you mean "test"?']);
  });

  test('a missing required param and an unknown name are both reported', () => {
    assert.deepEqual(errors({ epoch: '3' }), [
      'param "epoch": unknown param; did you mean "epochs"? known: "day", "epochs", "rate", "dry_run", "split", "note"',
      'param "day": required, but no value was given',
    ]);
  });

  test('a job without params says so', () => {
    const bare: CompiledJob = { ...job, name: 'bare', params: {} };
    const r = resolveParams(bare, { x: '1' });
    assert.deepEqual(r, { ok: false, errors: ['param "x": job "bare" takes no params'] });
  });

  test('values reach the environment as text under KAIROS_PARAM_<NAME>', () => {
    assert.equal(paramEnvName('dry_run'), 'KAIROS_PARAM_DRY_RUN');
    assert.deepEqual([true, false, 10, 0.5, '2024-01-01', 'a b'].map(paramEnvValue), ['true', 'false', '10', '0.5', '2024-01-01', 'a b']);
  });
});
