/** `npm run docs`: regenerates the files in docs/ that come from the manifest's one definition. */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { manifestJsonSchema, manifestReferenceMarkdown } from '../src/manifest/index.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
writeFileSync(join(ROOT, 'docs', 'manifest.md'), manifestReferenceMarkdown());
writeFileSync(join(ROOT, 'docs', 'kairos.schema.json'), JSON.stringify(manifestJsonSchema(), null, 2) + '\n');
console.log('wrote docs/manifest.md and docs/kairos.schema.json');
