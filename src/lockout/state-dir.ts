// Where tokengate keeps state that must survive restarts (the host-side PIN counters):
// TOKENGATE_STATE_DIR, else $XDG_STATE_HOME/tokengate, else ~/.local/state/tokengate.
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TOKENGATE_STATE_DIR) return env.TOKENGATE_STATE_DIR;
  if (env.XDG_STATE_HOME) return join(env.XDG_STATE_HOME, 'tokengate');
  return join(homedir(), '.local', 'state', 'tokengate');
}
