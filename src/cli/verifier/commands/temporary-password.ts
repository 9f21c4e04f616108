// `tokengate verifier temporary-password USERNAME`: a temporary password for a user who lost their
// token, mailed to them, or shown once here with --show.
import { jsonOption } from '../../commands/options.js';
import { printListing } from '../../table.js';
import { ACTOR, defineVerifierCommand, SHOWN_ONCE, withVerifier } from '../command.js';

export function temporaryPasswordCommand() {
  const command = defineVerifierCommand('temporary-password', 'For a lost token: a temporary password, mailed unless --show')
    .argument('<USERNAME>', 'whose')
    .option('--show', 'print it here, once, instead of mailing it');
  return jsonOption(command).action(
    withVerifier<{ show?: boolean; json?: boolean }>(async (verifier, [username], options) => {
      const issued = await verifier.temporaryPasswords.issue(ACTOR, username!, { deliver: options.show ? 'show' : 'mail' });
      // Shown once, here, only when asked for; otherwise it went by mail.
      printListing(options.json, issued, [{ password: issued.password ?? '(mailed)', expiresAt: issued.expiresAt.toISOString() }]);
      // On stderr under --json, so stdout stays one JSON document.
      if (issued.password !== undefined) (options.json ? console.error : console.log)(SHOWN_ONCE);
    }),
  );
}
