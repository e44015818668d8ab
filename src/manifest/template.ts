/**
 * The starter `kairos.yaml` that `kairos init` writes: an example document, commented with the descriptions of
 * the one schema (so the comments cannot drift from what `kairos validate` checks).
 */
import { Document, isMap, isScalar, type YAMLMap } from 'yaml';
import * as z from 'zod';
import { NAME_RULES } from './fields.js';
import { schemaAt } from './navigate.js';
import { manifestSchema } from './schema.js';

/** A valid project name made from any text (a directory name): lower-cased, other characters turned to `-`. */
export function toProjectName(text: string): string {
  const name = text
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .slice(0, 63)
    .replace(/[-_]+$/, '');
  return NAME_RULES.project.pattern.test(name) ? name : 'my-project';
}

/** The example: every kind of key a new user needs, with values that run anywhere (`echo`). */
function example(project: string): Record<string, unknown> {
  return {
    project,
    defaults: { timezone: 'UTC', timeout: '1h', retries: 1 },
    jobs: {
      hello: {
        description: 'Prints a greeting. Try: kairos run hello -p name=you',
        run: 'echo "hello, $KAIROS_PARAM_NAME"',
        params: { name: { type: 'string', default: 'world', description: 'Who to greet.' } },
      },
      nightly: {
        description: 'Runs every night at 02:00; after downtime, only the latest missed night is run.',
        run: 'echo "nightly report for $KAIROS_SCHEDULED_FOR"',
        schedule: { cron: '0 2 * * *', timezone: 'UTC', catchup: 'latest', concurrency: 'forbid' },
        timeout: '30m',
        retries: { max: 2, delay: '1m', backoff: 2 },
      },
    },
    pipelines: {
      daily: {
        description: 'The two jobs in order, every day at 03:00: nightly starts once hello succeeded. Try: kairos run daily',
        schedule: '0 3 * * *',
        steps: {
          greet: { job: 'hello', params: { name: 'pipeline' } },
          report: { job: 'nightly', needs: ['greet'] },
        },
      },
    },
  };
}

function wrap(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** yaml prints each line of a comment after `#`; a leading space gives `# text`. */
const asComment = (text: string, depth: number): string => wrap(text, 98 - 2 * depth).map((l) => ` ${l}`).join('\n');

export interface InitTemplateOptions {
  /** When given, the first line points editors at the JSON Schema (`# yaml-language-server: $schema=…`). */
  readonly schemaUrl?: string;
}

/** A commented starter manifest for `project` (made a valid name if it is not one). */
export function initTemplate(project: string, options: InitTemplateOptions = {}): string {
  const data = example(toProjectName(project));
  const doc = new Document(data);
  const described = new Set<z.ZodType>();
  const comment = (map: YAMLMap, path: string[]) => {
    map.items.forEach((pair, i) => {
      if (!isScalar(pair.key)) return;
      const childPath = [...path, String(pair.key.value)];
      const schema = schemaAt(manifestSchema, childPath, data);
      const description = schema === undefined ? undefined : z.globalRegistry.get(schema)?.description;
      // Each key is explained once: the second job's `description` needs no comment.
      if (schema !== undefined && description !== undefined && !described.has(schema)) {
        described.add(schema);
        pair.key.commentBefore = asComment(description, path.length);
      }
      // A blank line between top-level sections; the header comment already separates the first one.
      if (path.length === 0 && i > 0) pair.key.spaceBefore = true;
      if (isMap(pair.value)) comment(pair.value, childPath);
    });
  };
  if (isMap(doc.contents)) comment(doc.contents, []);
  const header = [
    ...(options.schemaUrl === undefined ? [] : [` yaml-language-server: $schema=${options.schemaUrl}`]),
    ' Kairos manifest: the jobs of this project. Check it with `kairos validate`;',
    ' every key is described in docs/manifest.md, and `kairos schema` prints the JSON Schema for editors.',
  ];
  doc.commentBefore = header.join('\n');
  return doc.toString({ lineWidth: 0 });
}
