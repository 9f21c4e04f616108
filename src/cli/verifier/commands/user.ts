// `tokengate verifier user …`: accounts on the store — add, list, show — and the changes to one
// (user-changes.ts). The password comes from TOKENGATE_PASSWORD or a masked prompt, never an option.
import type { UserView } from '../../../verifier/index.js';
import { defineGroup } from '../../command.js';
import { jsonOption } from '../../commands/options.js';
import { printListing } from '../../table.js';
import { ACTOR, collect, defineVerifierCommand, withVerifier } from '../command.js';
import { newPassword } from '../secrets.js';
import { userPage, userPageOptions, type UserPageOptions } from '../paging.js';
import { userChangeCommands } from './user-changes.js';

/** One user as field/value lines, with the client ranges whose policy overrides the user's own. */
function userRows(user: UserView, ranges: ReadonlyArray<{ cidr: string; policy: string }>): Array<Record<string, unknown>> {
  const overrides = ranges.map((r) => `${r.cidr} ${r.policy}`).join(', ');
  return [
    ['username', user.username],
    ['email', user.email],
    ['active', user.active],
    ['frozen', user.frozen],
    ['locked', user.lockedUntil ? `until ${user.lockedUntil.toISOString()}` : user.locked],
    ['failed logins', user.failedLogins],
    ['login ranges', user.loginIpRanges.join(', ') || '(any address)'],
    ['challenge policy', user.challengePolicy],
    ['range overrides', overrides ? `${overrides} (for clients inside them)` : '(none)'],
    ['security tokens', user.securityTokens.map((t) => t.name).join(', ') || '(none)'],
    ['created', user.createdAt.toISOString()],
  ].map(([field, value]) => ({ field, value }));
}

function addCommand() {
  const command = defineVerifierCommand('add', 'A new user; password from TOKENGATE_PASSWORD or a prompt')
    .argument('<USERNAME>', 'the new user')
    .requiredOption('--email <ADDRESS>', 'where their security token is mailed')
    .option('--login-range <CIDR>', 'logins only from here (repeatable; default: any address)', collect);
  return jsonOption(command).action(
    withVerifier<{ email: string; loginRange?: string[]; json?: boolean }>(async (verifier, [username], options) => {
      const user = await verifier.admin.create(ACTOR, { username: username!, email: options.email, password: await newPassword(), loginIpRanges: options.loginRange ?? [] });
      printListing(options.json, user, [{ username: user.username, email: user.email, tokens: user.securityTokens.map((t) => t.name).join(' ') || '(login ranges)', policy: user.challengePolicy }]);
      // The first thing a kiosk trips over: its answers carry no password.
      if (!options.json && user.challengePolicy === 'password+token') {
        console.log(`${user.username}'s challenge policy is password+token: a kiosk that sends no password will be refused — run tokengate verifier policy set ${user.username} token-only (or policy --help)`);
      }
    }),
  );
}

function listCommand() {
  return jsonOption(userPageOptions(defineVerifierCommand('list', 'Users (the first 1000, or --search, --after): active, frozen, locked, tokens, policy'))).action(
    withVerifier<UserPageOptions & { json?: boolean }>(async (verifier, _args, options) => {
      const users = await userPage(verifier, options, 'tokengate verifier user list');
      printListing(options.json, users, users.map((u) => ({ username: u.username, email: u.email, active: u.active, frozen: u.frozen, locked: u.locked, tokens: u.securityTokens.length, policy: u.challengePolicy })));
    }),
  );
}

function showCommand() {
  return jsonOption(defineVerifierCommand('show', 'One user, with the client ranges whose policy overrides theirs').argument('<USERNAME>', 'whom')).action(
    withVerifier<{ json?: boolean }>(async (verifier, [username], options) => {
      const user = await verifier.admin.get(username!);
      const ranges = await verifier.organisation.challengePolicyRanges();
      printListing(options.json, { ...user, challengePolicyRanges: ranges }, userRows(user, ranges));
    }),
  );
}

export function userCommand() {
  return defineGroup('user', 'Users: add, list, show, and changes to one', 'Users of the verifier, administered on its store (audited as cli).', [addCommand(), listCommand(), showCommand(), ...userChangeCommands()]);
}
