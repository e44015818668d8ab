/**
 * The import boundaries of docs/architecture.md are enforced by the lint that `npm test` runs: an upward import
 * added to a real source file fails it, and the documented exceptions pass.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const eslint = new ESLint({ cwd: root });

/** Lints a real source file with one import line added, as if it were saved that way. */
async function withImport(file: string, line: string): Promise<string[]> {
  const path = join(root, file);
  const text = `${line}\n${readFileSync(path, 'utf8')}`;
  const [result] = await eslint.lintText(text, { filePath: path });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports' && m.line === 1).map((m) => m.message);
}

describe('import boundaries', { timeout: 300_000 }, () => {
  const refused: [string, string][] = [
    ['src/model/ids.ts', "import type { Db } from '../store/db.js';"],
    ['src/model/ids.ts', "import { tokenHash } from '../control/tokens.js';"],
    ['src/store/runs.ts', "import { Engine } from '../control/engine.js';"],
    ['src/control/runs.ts', "import { Worker } from '../worker/worker.js';"],
    ['src/api/http.ts', "import { Worker } from '../worker/worker.js';"],
    ['src/worker/lines.ts', "import { openDb } from '../store/db.js';"],
    ['src/worker/lines.ts', "import { createServer } from '../api/server.js';"],
    ['src/check/format.ts', "import { AttemptRunner } from '../worker/attempt.js';"],
  ];
  for (const [file, line] of refused) {
    test(`refused in ${file}: ${line}`, async () => {
      const messages = await withImport(file, line);
      assert.equal(messages.length, 1, `expected the boundary rule to refuse it, got ${JSON.stringify(messages)}`);
      assert.match(messages[0]!, /layers of docs\/architecture\.md/);
    });
  }
  const allowed: [string, string][] = [
    ['src/worker/lines.ts', "import { KairosClient } from '../api/client.js';"],
    ['src/check/format.ts', "import { EnvCache } from '../worker/envs/index.js';"],
    ['src/control/runs.ts', "import { getRun } from '../store/runs.js';"],
  ];
  for (const [file, line] of allowed) {
    test(`allowed in ${file}: ${line}`, async () => {
      assert.deepEqual(await withImport(file, line), []);
    });
  }
});
