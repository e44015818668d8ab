import { manifestJsonSchema } from '../manifest/index.js';
import type { Command } from './command.js';

export const schemaCommand: Command = {
  name: 'schema',
  summary: "print the manifest's JSON Schema (for editors: # yaml-language-server: $schema=...)",
  usage: 'schema',
  options: {},
  positionals: { min: 0, max: 0 },
  async run(_p, { io }) {
    io.out(JSON.stringify(manifestJsonSchema(), null, 2) + '\n');
  },
};
