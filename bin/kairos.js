#!/usr/bin/env node
import('../dist/src/cli/main.js').then((m) => m.main(process.argv.slice(2))).catch((err) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(70);
});
