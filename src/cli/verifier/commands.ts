// `tokengate verifier …`: serve the HTTP API, and administer users, IP ranges, challenge policies,
// API keys and the audit log directly on the store (the same operations the admin API offers,
// audited as `cli`). Listings are aligned columns (`--json` for scripts); every change says what
// it did in one line.
import { printTable } from '../table.js';
import { API_KEY_SCOPES, type ApiKeyScope } from '../../verifier/access/api-keys.js';
import type { UserAction, UserView } from '../../verifier/accounts/admin.js';
import type { LifecycleAction } from '../../verifier/tokens/registry.js';
import { Verifier } from '../../verifier/verifier.js';
import { UsageError } from '../exit-codes.js';
import { parseVerifierArgs } from './args.js';
import { auditQueryFrom } from './audit.js';
import { VERIFIER_OPTION_HELP, verifierConfig } from './config.js';
import { POLICY_HELP, runPolicy } from './policy.js';
import { newPassword } from './secrets.js';
import { serve } from './serve.js';

export const VERIFIER_HELP = `usage: tokengate verifier <command> [options]

commands:
  serve [--listen HOST:PORT] [--trusted-proxy CIDR]...   run the HTTP API (default 127.0.0.1:8787)
        [--request-timeout S] [--connections-per-address N] [--max-connections N] [--config FILE]
  user add USERNAME --email ADDRESS [--login-range CIDR]...   password from TOKENGATE_PASSWORD or a prompt
  user list | show USERNAME
  user deactivate|reactivate|freeze|unfreeze|unlock|delete USERNAME
  user reset-password USERNAME                            resets and mails the user's security tokens
  user login-ranges USERNAME [CIDR...]                    none given: no restriction
  policy set USERNAME token-only|password+token          what a token login needs (a kiosk sends
  policy range CIDR token-only|password+token|--clear    no password: its users or its network
  policy list                                             need token-only; policy --help)
  user token USERNAME issue|revoke NAME                   a named security token (mailed)
  ip-range list | add CIDR [--description TEXT] | remove CIDR   organisation-wide trusted ranges
  api-key create --label TEXT --scope admin|helpdesk|audit[,…] | list | revoke ID   shown once
  credential list USERNAME                                enrolled hardware tokens
  credential disable|enable|block|revoke|unlock ID [--reason TEXT]
  temporary-password USERNAME [--show]                    for a lost token (mailed unless --show)
  blocklist                                               serials and fingerprints of blocked tokens
  audit [--subject USERNAME] [--action NAME] [--limit N] [--since TIME] [--until TIME]
                                                          the newest N (100) first; ISO 8601 times
  remind                                                  mail reminders for tokens past their age

  --json on listings; exit codes: 0 ok, 1 failure, 2 usage.

${VERIFIER_OPTION_HELP}
`;

const USER_ACTIONS: readonly string[] = ['deactivate', 'reactivate', 'freeze', 'unfreeze', 'unlock'];
const DONE: Record<UserAction | LifecycleAction, string> = {
  deactivate: 'deactivated',
  reactivate: 'reactivated',
  freeze: 'frozen',
  unfreeze: 'unfrozen',
  unlock: 'unlocked',
  disable: 'disabled',
  enable: 'enabled',
  block: 'blocked',
  revoke: 'revoked',
};
const SHOWN_ONCE = 'store it now: it is shown only once';

function print(json: boolean, data: unknown, rows?: Array<Record<string, unknown>>): void {
  if (json || !rows) console.log(JSON.stringify(data, null, 2));
  else printTable(rows);
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`missing ${what} (see tokengate verifier --help)`);
  return value;
}

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

function scopesFrom(text: string): ApiKeyScope[] {
  const scopes = text.split(',').map((s) => s.trim());
  const bad = scopes.find((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
  if (bad !== undefined) throw new UsageError(`--scope: one or more of ${API_KEY_SCOPES.join(', ')}, comma-separated (got ${JSON.stringify(bad)})`);
  return scopes as ApiKeyScope[];
}

export async function runVerifier(argv: string[]): Promise<number> {
  const { values, positionals } = parseVerifierArgs(argv);
  const [group, verb, ...rest] = positionals;
  if (group === 'policy' && (values.help || !verb)) {
    console.log(POLICY_HELP);
    return values.help ? 0 : 2;
  }
  if (values.help || !group) {
    console.log(VERIFIER_HELP);
    return values.help ? 0 : 2;
  }
  const json = values.json === true;
  // Every setting is checked here, before anything opens: a bad one is a usage error (exit 2).
  const config = verifierConfig(values);
  if (group === 'serve') return serve(config.verifier, config.serve);

  await using verifier = await Verifier.open(config.verifier);
  const actor = 'cli';
  // Two-word commands (user add, credential block, …) and one-word ones whose next word is an argument.
  const command = ['user', 'ip-range', 'api-key', 'credential'].includes(group) ? `${group} ${verb ?? ''}`.trim() : group;
  switch (command) {
    case 'user add': {
      const user = await verifier.admin.create(actor, {
        username: need(rest[0], 'USERNAME'),
        email: need(values.email, '--email'),
        password: await newPassword(),
        loginIpRanges: values['login-range'] ?? [],
      });
      print(json, user, [{ username: user.username, email: user.email, tokens: user.securityTokens.map((t) => t.name).join(' ') || '(login ranges)', policy: user.challengePolicy }]);
      // The first thing a kiosk trips over: its answers carry no password.
      if (!json && user.challengePolicy === 'password+token') {
        console.log(`${user.username}'s challenge policy is password+token: a kiosk that sends no password will be refused — run tokengate verifier policy set ${user.username} token-only (or policy --help)`);
      }
      break;
    }
    case 'user list': {
      const users = await verifier.admin.list();
      print(json, users, users.map((u) => ({ username: u.username, email: u.email, active: u.active, frozen: u.frozen, locked: u.locked, tokens: u.securityTokens.length, policy: u.challengePolicy })));
      break;
    }
    case 'user show': {
      const user = await verifier.admin.get(need(rest[0], 'USERNAME'));
      const ranges = await verifier.organisation.challengePolicyRanges();
      print(json, { ...user, challengePolicyRanges: ranges }, userRows(user, ranges));
      break;
    }
    case 'user delete':
      await verifier.admin.delete(actor, need(rest[0], 'USERNAME'));
      console.log(`user ${rest[0]} deleted (the audit log keeps their history)`);
      break;
    case 'user reset-password':
      await verifier.admin.resetPassword(actor, need(rest[0], 'USERNAME'), await newPassword());
      console.log(`${rest[0]}: password reset; their security tokens were reset and mailed`);
      break;
    case 'user login-ranges':
      await verifier.admin.setLoginIpRanges(actor, need(rest[0], 'USERNAME'), rest.slice(1));
      console.log(`${rest[0]}: ${rest.length > 1 ? `logins only from ${rest.slice(1).join(', ')}` : 'logins from any address'}`);
      break;
    case 'user token': {
      const [username, op, name] = rest;
      if (op === 'issue') await verifier.admin.issueToken(actor, need(username, 'USERNAME'), need(name, 'NAME'));
      else if (op === 'revoke') await verifier.admin.revokeToken(actor, need(username, 'USERNAME'), need(name, 'NAME'));
      else throw new UsageError('user token USERNAME issue|revoke NAME');
      console.log(`${username}: security token "${name}" ${op === 'issue' ? 'issued (mailed)' : 'revoked'}`);
      break;
    }
    case 'policy':
      await runPolicy(verifier, actor, [verb ?? '', ...rest], { json, clear: values.clear === true });
      break;
    case 'ip-range list': {
      const ranges = await verifier.organisation.trustedRanges();
      print(json, ranges, ranges.map((r) => ({ ...r })));
      break;
    }
    case 'ip-range add':
      console.log(`trusted range ${await verifier.organisation.addTrustedRange(actor, need(rest[0], 'CIDR'), values.description ?? '')} added`);
      break;
    case 'ip-range remove':
      if (!(await verifier.organisation.removeTrustedRange(actor, need(rest[0], 'CIDR')))) throw new Error('no such trusted range');
      console.log(`trusted range ${rest[0]} removed`);
      break;
    case 'api-key create': {
      const scopes = scopesFrom(need(values.scope, '--scope'));
      const { key, info } = await verifier.apiKeys.create(actor, need(values.label, '--label'), scopes);
      // The key is printed once, here; only its hash is stored. The note goes to stderr under
      // --json, so stdout stays one JSON document.
      print(json, { key, ...info }, [{ key, id: info.id, scopes: info.scopes.join(' ') }]);
      (json ? console.error : console.log)(SHOWN_ONCE);
      break;
    }
    case 'api-key list': {
      const keys = await verifier.apiKeys.list();
      print(json, keys, keys.map((k) => ({ id: k.id, label: k.label, scopes: k.scopes.join(' '), revoked: k.revoked })));
      break;
    }
    case 'api-key revoke':
      if (!(await verifier.apiKeys.revoke(actor, need(rest[0], 'ID')))) throw new Error('no such API key');
      console.log(`API key ${rest[0]} revoked`);
      break;
    case 'audit': {
      const entries = await verifier.audit(auditQueryFrom(values));
      print(json, entries, entries.map((e) => ({ at: e.at.toISOString(), actor: e.actor, action: e.action, subject: e.subject ?? '', ip: e.clientIp ?? '', result: e.result, reason: e.reason })));
      break;
    }
    case 'credential list': {
      const credentials = await verifier.credentials.list(need(rest[0], 'USERNAME'));
      print(json, credentials, credentials.map((c) => ({ id: c.id, label: c.label, serial: c.serial ?? '', keyType: c.keyType, status: c.status, locked: c.locked })));
      break;
    }
    case 'credential unlock':
      await verifier.credentials.unlock(actor, need(rest[0], 'ID'));
      console.log(`credential ${rest[0]} unlocked`);
      break;
    case 'credential disable':
    case 'credential enable':
    case 'credential block':
    case 'credential revoke':
      await verifier.credentials.apply(actor, need(rest[0], 'ID'), verb as LifecycleAction, values.reason ?? verb);
      console.log(`credential ${rest[0]} ${DONE[verb as LifecycleAction]}`);
      break;
    case 'temporary-password': {
      const issued = await verifier.temporaryPasswords.issue(actor, need(verb, 'USERNAME'), { deliver: values.show ? 'show' : 'mail' });
      // Shown once, here, only when asked for; otherwise it went by mail.
      print(json, issued, [{ password: issued.password ?? '(mailed)', expiresAt: issued.expiresAt.toISOString() }]);
      if (issued.password !== undefined) (json ? console.error : console.log)(SHOWN_ONCE);
      break;
    }
    case 'blocklist': {
      const list = await verifier.credentials.blocklist();
      print(json, list, [...list.serials.map((value) => ({ kind: 'serial', value })), ...list.certificateFingerprints.map((value) => ({ kind: 'certificate sha-256', value }))]);
      break;
    }
    case 'remind':
      console.log(`${await verifier.organisation.remindStaleTokens()} reminder(s) queued`);
      break;
    default:
      if (group === 'user' && verb && USER_ACTIONS.includes(verb)) {
        await verifier.admin.apply(actor, need(rest[0], 'USERNAME'), verb as UserAction);
        console.log(`user ${rest[0]} ${DONE[verb as UserAction]}`);
        break;
      }
      throw new UsageError(`unknown verifier command "${positionals.join(' ')}" (scopes: ${API_KEY_SCOPES.join(', ')})`);
  }
  await verifier.deliverMail();
  return 0;
}
