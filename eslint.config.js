// Lint for Kairos: promise safety, exhaustive switches, type-only imports, and the import boundaries between
// the boxes of DESIGN.md's "path of a run" (see docs/architecture.md). Run by `npm test` with zero warnings.
import tseslint from 'typescript-eslint';

/**
 * An import rule for one folder: the folders it may not reach into, and the exceptions (a file, or `dir/**`;
 * gitignore cannot re-include a file whose folder is excluded, so a folder exception names the folder too).
 */
function boundary(files, forbidden, allowed = []) {
  return {
    files,
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [...forbidden.map((f) => (f.endsWith('.js') ? `**/${f}` : `**/${f}/**`)), ...allowed.flatMap((a) => (a.endsWith('/**') ? [`!**/${a.slice(0, -3)}`, `!**/${a}`] : [`!**/${a}`]))],
              message: 'This import points up or across the layers of docs/architecture.md; move the shared part to a neutral module.',
            },
          ],
        },
      ],
    },
  };
}

/** Folders are named bare; a top-level file by its name with `.js`. */
const outer = ['cli', 'embedded.js', 'check'];
export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'ui/**', 'tools/*.mjs', 'eslint.config.js', 'bench/*.py'] },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() return promises the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      'no-control-regex': 'error',
    },
  },
  // Layers (DESIGN.md): model ← manifest ← store ← control ← api; protocol and bundle are neutral; the worker
  // talks to the server only through the client (src/api/client.ts).
  boundary(['src/model/**/*.ts'], ['manifest', 'store', 'control', 'worker', 'api', 'protocol', 'bundle', ...outer]),
  boundary(['src/manifest/**/*.ts'], ['store', 'control', 'worker', 'api', 'protocol', 'bundle', ...outer]),
  boundary(['src/protocol/**/*.ts', 'src/bundle/**/*.ts'], ['store', 'control', 'worker', 'api', ...outer]),
  boundary(['src/store/**/*.ts'], ['control', 'worker', 'api', 'protocol', 'bundle', ...outer]),
  boundary(['src/control/**/*.ts'], ['worker', 'api', ...outer]),
  boundary(['src/api/**/*.ts'], ['worker', ...outer]),
  boundary(['src/worker/**/*.ts'], ['control', 'store', 'api', ...outer], ['api/client.js', 'api/client-transport.js', 'api/contract/**']),
  boundary(['src/check/**/*.ts'], ['control', 'store', 'api', 'worker', 'cli', 'embedded.js'], ['api/client.js', 'api/client-transport.js', 'api/contract/**', 'worker/envs/**', 'worker/notebook/**', 'worker/containers/**']),
);
