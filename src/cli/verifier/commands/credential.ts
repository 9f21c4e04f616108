// `tokengate verifier credential …`: enrolled hardware tokens, cards and security keys alike — list
// a user's, and change one's state (disable, enable, block, revoke, unlock), each said in one line.
import type { LifecycleAction } from '../../../verifier/index.js';
import type { Command } from 'commander';
import { defineGroup } from '../../command.js';
import { jsonOption } from '../../commands/options.js';
import { printListing } from '../../table.js';
import { ACTOR, defineVerifierCommand, withVerifier } from '../command.js';

const LIFECYCLE: ReadonlyArray<[LifecycleAction, done: string, summary: string]> = [
  ['disable', 'disabled', 'Refused for now'],
  ['enable', 'enabled', 'Accepted again'],
  ['block', 'blocked', 'Lost or stolen: refused, and on the blocklist kiosks fetch'],
  ['revoke', 'revoked', 'Refused for good'],
];

function listCommand() {
  return jsonOption(defineVerifierCommand('list', "A user's enrolled hardware tokens: cards and security keys").argument('<USERNAME>', 'whose')).action(
    withVerifier<{ json?: boolean }>(async (verifier, [username], options) => {
      const credentials = await verifier.credentials.list(username!);
      printListing(
        options.json,
        credentials,
        credentials.map((c) => ({
          id: c.id,
          kind: c.kind,
          label: c.label,
          // A card's serial; a security key's WebAuthn credential id (what the blocklist carries).
          serial: c.serial ?? c.fidoCredentialId ?? '',
          keyType: c.keyType,
          status: c.status,
          locked: c.locked,
          // A security key whose counter went back (possibly cloned): refused until `credential unlock`.
          flagged: c.flagReason ?? '',
        })),
      );
    }),
  );
}

function lifecycleCommand([action, done, summary]: (typeof LIFECYCLE)[number]): Command {
  return defineVerifierCommand(action, summary)
    .argument('<ID>', 'the credential (credential list shows it)')
    .option('--reason <TEXT>', `kept in the audit log (default: ${action})`)
    .action(
      withVerifier<{ reason?: string }>(async (verifier, [id], options) => {
        await verifier.credentials.apply(ACTOR, id!, action, options.reason ?? action);
        console.log(`credential ${id} ${done}`);
      }),
    );
}

function unlockCommand() {
  return defineVerifierCommand('unlock', "Clears the lock after failed challenge logins, and a security key's clone flag once checked")
    .argument('<ID>', 'the credential')
    .action(
      withVerifier(async (verifier, [id]) => {
        const flag = (await verifier.credentials.get(id!)).flagReason;
        await verifier.credentials.unlock(ACTOR, id!);
        console.log(flag ? `credential ${id} unlocked (flag ${flag} cleared)` : `credential ${id} unlocked`);
      }),
    );
}

export function credentialCommand() {
  return defineGroup('credential', 'Enrolled hardware tokens: list, disable, enable, block, revoke, unlock', "Users' enrolled hardware tokens: cards and FIDO security keys.", [listCommand(), ...LIFECYCLE.map(lifecycleCommand), unlockCommand()]);
}
