// `tokengate verifier user deactivate|reactivate|freeze|unfreeze|unlock|delete|reset-password|
// login-ranges|token …`: the changes to one user, each said in one line.
import type { UserAction } from '../../../verifier/index.js';
import { Command } from 'commander';
import { UsageError } from '../../exit-codes.js';
import { ACTOR, defineVerifierCommand, withVerifier } from '../command.js';
import { newPassword } from '../secrets.js';

const ACTIONS: ReadonlyArray<[UserAction, done: string, summary: string]> = [
  ['deactivate', 'deactivated', 'No more logins, until reactivated'],
  ['reactivate', 'reactivated', 'Logins again'],
  ['freeze', 'frozen', 'Logins refused for now (a suspected compromise)'],
  ['unfreeze', 'unfrozen', 'Logins again after a freeze'],
  ['unlock', 'unlocked', 'Clears the lock after failed logins'],
];

function actionCommand([action, done, summary]: (typeof ACTIONS)[number]): Command {
  return defineVerifierCommand(action, summary)
    .argument('<USERNAME>', 'whom')
    .action(
      withVerifier(async (verifier, [username]) => {
        await verifier.admin.apply(ACTOR, username!, action);
        console.log(`user ${username} ${done}`);
      }),
    );
}

function deleteCommand(): Command {
  return defineVerifierCommand('delete', 'Deletes the user (the audit log keeps their history)')
    .argument('<USERNAME>', 'whom')
    .action(
      withVerifier(async (verifier, [username]) => {
        await verifier.admin.delete(ACTOR, username!);
        console.log(`user ${username} deleted (the audit log keeps their history)`);
      }),
    );
}

function resetPasswordCommand(): Command {
  return defineVerifierCommand('reset-password', "A new password (TOKENGATE_PASSWORD or a prompt); resets and mails the user's security tokens")
    .argument('<USERNAME>', 'whose')
    .action(
      withVerifier(async (verifier, [username]) => {
        await verifier.admin.resetPassword(ACTOR, username!, await newPassword());
        console.log(`${username}: password reset; their security tokens were reset and mailed`);
      }),
    );
}

function loginRangesCommand(): Command {
  return defineVerifierCommand('login-ranges', 'Logins only from these ranges (none given: no restriction)')
    .argument('<USERNAME>', 'whose')
    .argument('[CIDR...]', 'the ranges')
    .action(
      withVerifier<object, [string, string[]]>(async (verifier, [username, cidrs]) => {
        await verifier.admin.setLoginIpRanges(ACTOR, username, cidrs);
        console.log(`${username}: ${cidrs.length > 0 ? `logins only from ${cidrs.join(', ')}` : 'logins from any address'}`);
      }),
    );
}

function tokenCommand(): Command {
  return defineVerifierCommand('token', 'Issues (mailed) or revokes a named security token')
    .argument('<USERNAME>', 'whose')
    .argument('<issue|revoke>', 'what to do')
    .argument('<NAME>', "the token's name")
    .action(
      withVerifier(async (verifier, [username, op, name]) => {
        if (op === 'issue') await verifier.admin.issueToken(ACTOR, username!, name!);
        else if (op === 'revoke') await verifier.admin.revokeToken(ACTOR, username!, name!);
        else throw new UsageError('user token USERNAME issue|revoke NAME');
        console.log(`${username}: security token "${name}" ${op === 'issue' ? 'issued (mailed)' : 'revoked'}`);
      }),
    );
}

export function userChangeCommands(): Command[] {
  return [...ACTIONS.map(actionCommand), deleteCommand(), resetPasswordCommand(), loginRangesCommand(), tokenCommand()];
}
