// `tokengate verifier …`: serve the HTTP API, and administer users, challenge policies, IP ranges,
// API keys, credentials and the audit log directly on the store (the same operations the admin
// API offers, audited as `cli`). Listings are aligned columns (`--json` for scripts); every change
// says what it did in one line.
import { defineGroup } from '../command.js';
import { withSettings } from './command.js';
import { apiKeyCommand } from './commands/api-key.js';
import { auditCommand } from './commands/audit.js';
import { blocklistCommand } from './commands/blocklist.js';
import { credentialCommand } from './commands/credential.js';
import { ipRangeCommand } from './commands/ip-range.js';
import { policyCommand } from './commands/policy.js';
import { remindCommand } from './commands/remind.js';
import { serveCommand } from './commands/serve.js';
import { temporaryPasswordCommand } from './commands/temporary-password.js';
import { userCommand } from './commands/user.js';

const AFTER = `
state dir: TOKENGATE_STATE_DIR, else $XDG_STATE_HOME/tokengate, else ~/.local/state/tokengate.
--json on listings; exit codes: 0 ok, 1 failure, 2 usage.`;

export function verifierCommand() {
  const group = defineGroup('verifier', 'The companion verifier: serve, users, policies, IP ranges, API keys, audit', 'The companion verifier: its HTTP API, and its administration on the store.', [
    serveCommand(),
    userCommand(),
    policyCommand(),
    ipRangeCommand(),
    apiKeyCommand(),
    credentialCommand(),
    temporaryPasswordCommand(),
    blocklistCommand(),
    auditCommand(),
    remindCommand(),
  ]);
  return withSettings(group).addHelpText('after', AFTER);
}
