// `tokengate verifier remind`: mail reminders to the owners of tokens past their age.
import { defineVerifierCommand, withVerifier } from '../command.js';

export function remindCommand() {
  return defineVerifierCommand('remind', 'Mails reminders for tokens past their age').action(
    withVerifier(async (verifier) => {
      console.log(`${await verifier.organisation.remindStaleTokens()} reminder(s) queued`);
    }),
  );
}
