// Every test file (one process each) gets its own state directory for the host's PIN counters,
// so no count leaks between files or into the real ~/.local/state of whoever runs the suite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

if (!process.env.TOKENGATE_STATE_DIR) {
  const dir = mkdtempSync(join(tmpdir(), 'tokengate-state-'));
  process.env.TOKENGATE_STATE_DIR = dir;
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
}
