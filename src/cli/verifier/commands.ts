// `tokengate verifier …`: serve the HTTP API, and administer users, IP ranges, API keys and the
// audit log directly on the store (the same operations the admin API offers, audited as `cli`).
import { printTable } from '../table.js';
import { parseArgs } from 'node:util';
import { API_KEY_SCOPES, type ApiKeyScope } from '../../verifier/access/api-keys.js';
import type { UserAction } from '../../verifier/accounts/admin.js';
import type { LifecycleAction } from '../../verifier/tokens/registry.js';
import { Verifier } from '../../verifier/verifier.js';
import { VERIFIER_OPTION_HELP, verifierConfig, verifierParseOptions } from './config.js';
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
  user token USERNAME issue|revoke NAME                   a named security token (mailed)
  ip-range list | add CIDR [--description TEXT] | remove CIDR   organisation-wide trusted ranges
  api-key create --label TEXT --scope admin|helpdesk|audit[,…] | list | revoke ID
  credential list USERNAME                                enrolled hardware tokens
  credential disable|enable|block|revoke|unlock ID [--reason TEXT]
  temporary-password USERNAME [--show]                    for a lost token (mailed unless --show)
  blocklist                                               serials and fingerprints of blocked tokens
  audit [--subject USERNAME] [--action NAME] [--limit N]
  remind                                                  mail reminders for tokens past their age

  --json on listings; exit codes: 0 ok, 1 failure, 2 usage.

${VERIFIER_OPTION_HELP}
`;

const USER_ACTIONS: readonly string[] = ['deactivate', 'reactivate', 'freeze', 'unfreeze', 'unlock'];

function print(json: boolean, data: unknown, rows?: Array<Record<string, unknown>>): void {
  if (json || !rows) console.log(JSON.stringify(data, null, 2));
  else printTable(rows);
}

class UsageError extends TypeError {}

function need(value: string | undefined, what: string): string {
  if (!value) throw new UsageError(`missing ${what} (see tokengate verifier --help)`);
  return value;
}

export async function runVerifier(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...verifierParseOptions,
      json: { type: 'boolean' },
      help: { type: 'boolean' },
      debug: { type: 'boolean' },
      email: { type: 'string' },
      'login-range': { type: 'string', multiple: true },
      description: { type: 'string' },
      label: { type: 'string' },
      scope: { type: 'string' },
      subject: { type: 'string' },
      action: { type: 'string' },
      limit: { type: 'string' },
      listen: { type: 'string' },
      'trusted-proxy': { type: 'string', multiple: true },
      reason: { type: 'string' },
      show: { type: 'boolean' },
    },
  });
  const [group, verb, ...rest] = positionals;
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
      print(json, user, [{ username: user.username, email: user.email, tokens: user.securityTokens.map((t) => t.name).join(' ') || '(login ranges)' }]);
      break;
    }
    case 'user list': {
      const users = await verifier.admin.list();
      print(json, users, users.map((u) => ({ username: u.username, email: u.email, active: u.active, frozen: u.frozen, locked: u.locked, tokens: u.securityTokens.length })));
      break;
    }
    case 'user show':
      print(true, await verifier.admin.get(need(rest[0], 'USERNAME')));
      break;
    case 'user delete':
      await verifier.admin.delete(actor, need(rest[0], 'USERNAME'));
      break;
    case 'user reset-password':
      await verifier.admin.resetPassword(actor, need(rest[0], 'USERNAME'), await newPassword());
      break;
    case 'user login-ranges':
      await verifier.admin.setLoginIpRanges(actor, need(rest[0], 'USERNAME'), rest.slice(1));
      break;
    case 'user token': {
      const [username, op, name] = rest;
      if (op === 'issue') await verifier.admin.issueToken(actor, need(username, 'USERNAME'), need(name, 'NAME'));
      else if (op === 'revoke') await verifier.admin.revokeToken(actor, need(username, 'USERNAME'), need(name, 'NAME'));
      else throw new UsageError('user token USERNAME issue|revoke NAME');
      break;
    }
    case 'ip-range list': {
      const ranges = await verifier.organisation.trustedRanges();
      print(json, ranges, ranges.map((r) => ({ ...r })));
      break;
    }
    case 'ip-range add':
      console.log(await verifier.organisation.addTrustedRange(actor, need(rest[0], 'CIDR'), values.description ?? ''));
      break;
    case 'ip-range remove':
      if (!(await verifier.organisation.removeTrustedRange(actor, need(rest[0], 'CIDR')))) throw new Error('no such trusted range');
      break;
    case 'api-key create': {
      const scopes = need(values.scope, '--scope').split(',') as ApiKeyScope[];
      const { key, info } = await verifier.apiKeys.create(actor, need(values.label, '--label'), scopes);
      // The key is printed once, here; only its hash is stored.
      print(json, { key, ...info }, [{ key, id: info.id, scopes: info.scopes.join(' ') }]);
      break;
    }
    case 'api-key list': {
      const keys = await verifier.apiKeys.list();
      print(json, keys, keys.map((k) => ({ id: k.id, label: k.label, scopes: k.scopes.join(' '), revoked: k.revoked })));
      break;
    }
    case 'api-key revoke':
      if (!(await verifier.apiKeys.revoke(actor, need(rest[0], 'ID')))) throw new Error('no such API key');
      break;
    case 'audit': {
      const entries = await verifier.audit({ subject: values.subject, action: values.action, limit: values.limit ? Number(values.limit) : undefined });
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
      break;
    case 'credential disable':
    case 'credential enable':
    case 'credential block':
    case 'credential revoke':
      await verifier.credentials.apply(actor, need(rest[0], 'ID'), verb as LifecycleAction, values.reason ?? verb);
      break;
    case 'temporary-password': {
      const issued = await verifier.temporaryPasswords.issue(actor, need(verb, 'USERNAME'), { deliver: values.show ? 'show' : 'mail' });
      // Shown once, here, only when asked for; otherwise it went by mail.
      print(json, issued, [{ password: issued.password ?? '(mailed)', expiresAt: issued.expiresAt.toISOString() }]);
      break;
    }
    case 'blocklist':
      print(true, await verifier.credentials.blocklist());
      break;
    case 'remind':
      console.log(`${await verifier.organisation.remindStaleTokens()} reminder(s) queued`);
      break;
    default:
      if (group === 'user' && verb && USER_ACTIONS.includes(verb)) {
        await verifier.admin.apply(actor, need(rest[0], 'USERNAME'), verb as UserAction);
        break;
      }
      throw new UsageError(`unknown verifier command "${positionals.join(' ')}" (scopes: ${API_KEY_SCOPES.join(', ')})`);
  }
  await verifier.deliverMail();
  return 0;
}
