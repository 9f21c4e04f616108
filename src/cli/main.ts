#!/usr/bin/env node
// The `tokengate` executable: runs a command, prints one line per error (with its code) and
// exits with a code a script can branch on. `--debug` adds the stack. A reader that stops early
// (`tokengate --help | head -1`) closes the pipe: that ends the output, quietly, as for any Unix tool.
import { TokengateError } from '../index.js';
import { VerifierError } from '../client/index.js';
import { exitCodeFor, UsageError } from './exit-codes.js';
import { run } from './run.js';

for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
}

run(process.argv.slice(2)).catch((err: unknown) => {
  const code = err instanceof TokengateError || err instanceof VerifierError || err instanceof UsageError ? ` [${err.code}]` : '';
  console.error(`tokengate: ${err instanceof Error ? err.message : String(err)}${code}`);
  if (process.argv.includes('--debug') && err instanceof Error) console.error(err.stack);
  process.exitCode = exitCodeFor(err);
});
