#!/usr/bin/env node
// The `tokengate` executable: runs a command, prints one line per error (with its code) and
// exits with a code a script can branch on. `--debug` adds the stack.
import { TokengateError } from '../index.js';
import { VerifierError } from '../client/index.js';
import { exitCodeFor, UsageError } from './exit-codes.js';
import { run } from './run.js';

run(process.argv.slice(2)).catch((err: unknown) => {
  const code = err instanceof TokengateError || err instanceof VerifierError || err instanceof UsageError ? ` [${err.code}]` : '';
  console.error(`tokengate: ${err instanceof Error ? err.message : String(err)}${code}`);
  if (process.argv.includes('--debug') && err instanceof Error) console.error(err.stack);
  process.exitCode = exitCodeFor(err);
});
