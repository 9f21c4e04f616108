// The console's users: search them by username or email prefix and page through them (keyset,
// store/user-search.ts), create one; one user's page with the
// account actions (deactivate, reactivate, freeze, unfreeze, unlock), a new password, login IP
// ranges, and the enrolled tokens with block / unblock / revoke / unlock and the lost-token
// temporary password (mailed, or shown once on the page that answers the form — never in a URL).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { UserAction } from '../accounts/admin.js';
import { InvalidInputError } from '../errors.js';
import type { LifecycleAction } from '../tokens/registry.js';
import type { Verifier } from '../verifier.js';
import { optionalText, queryText } from './forms.js';
import { redirectWith, render } from './render.js';
import { action, consoleActor, form, page, param, type Page } from './routing.js';
import { demand, USER_ACTIONS, type ConsolePermission } from './roles.js';

export const USERS_PER_PAGE = 25;

const CREDENTIAL_ACTIONS: Record<string, { permission: ConsolePermission; lifecycle?: LifecycleAction }> = {
  block: { permission: 'credentials.block', lifecycle: 'block' },
  enable: { permission: 'credentials.enable', lifecycle: 'enable' },
  revoke: { permission: 'credentials.revoke', lifecycle: 'revoke' },
  unlock: { permission: 'credentials.unlock' },
};

/** Counted up to this many: a count of a million users would read them all. */
const COUNT_CAP = 1000;

export function consoleUserRoutes(web: FastifyInstance, verifier: Verifier): void {
  const users = page(web, '/console/users', {
    template: 'console/users',
    guard: 'users.read',
    load: async (request) => {
      const q = (queryText(request, 'q') ?? '').trim();
      const [found, total] = await Promise.all([
        verifier.admin.search({ text: q, after: queryText(request, 'after') || undefined, before: queryText(request, 'before') || undefined, limit: USERS_PER_PAGE }),
        verifier.admin.count(q, COUNT_CAP + 1),
      ]);
      const link = (name: string, value: string | undefined) => value === undefined ? undefined : `/console/users?${new URLSearchParams([['q', q], [name, value]])}`;
      return { title: 'Users', q, total: total > COUNT_CAP ? `More than ${COUNT_CAP.toLocaleString('en')}` : String(total), users: found.users, nextLink: link('after', found.next), previousLink: link('before', found.previous), values: form(request) };
    },
  });
  action(web, '/console/users', {
    required: ['username', 'email', 'password'],
    optional: ['loginIpRanges'],
    guard: 'users.create',
    page: users,
    handle: async (request, reply) => {
      const { username = '', email = '', password = '', loginIpRanges } = form(request);
      const created = await verifier.admin.create(consoleActor(request), { username: username.trim(), email: email.trim(), password, loginIpRanges: splitRanges(loginIpRanges) });
      return redirectWith(reply, `/console/users/${encodeURIComponent(created.username)}`, 'user-created');
    },
  });

  const user: Page = page(web, '/console/users/:username', {
    template: 'console/user',
    guard: 'users.read',
    load: async (request) => {
      const username = param(request, 'username');
      const view = await verifier.admin.get(username);
      return { title: `User ${view.username}`, user: view, credentials: await verifier.credentials.list(view.username), shown: undefined };
    },
  });
  const back = (request: FastifyRequest) => `/console/users/${encodeURIComponent(param(request, 'username'))}`;

  action(web, '/console/users/:username/account', {
    required: ['action'],
    params: ['username'],
    guard: 'console',
    page: user,
    handle: async (request, reply) => {
      const name = form(request).action as UserAction;
      if (!USER_ACTIONS.includes(name)) throw new InvalidInputError('no such action');
      demand(request.web?.session?.identity, `users.${name}`);
      await verifier.admin.apply(consoleActor(request), param(request, 'username'), name);
      return redirectWith(reply, back(request), 'done');
    },
  });
  action(web, '/console/users/:username/password', {
    required: ['newPassword'],
    params: ['username'],
    guard: 'users.password',
    page: user,
    handle: async (request, reply) => {
      await verifier.admin.resetPassword(consoleActor(request), param(request, 'username'), form(request).newPassword ?? '');
      return redirectWith(reply, back(request), 'password-reset');
    },
  });
  action(web, '/console/users/:username/login-ip-ranges', {
    required: ['ranges'],
    params: ['username'],
    guard: 'users.login-ranges',
    page: user,
    handle: async (request, reply) => {
      await verifier.admin.setLoginIpRanges(consoleActor(request), param(request, 'username'), splitRanges(form(request).ranges));
      return redirectWith(reply, back(request), 'done');
    },
  });
  action(web, '/console/users/:username/credentials/:id', {
    required: ['action'],
    params: ['username', 'id'],
    guard: 'console',
    page: user,
    handle: async (request, reply) => {
      const chosen = CREDENTIAL_ACTIONS[form(request).action ?? ''];
      if (!chosen) throw new InvalidInputError('no such action');
      demand(request.web?.session?.identity, chosen.permission);
      const id = param(request, 'id');
      // The token must be this user's: a form cannot reach another's through this page.
      if ((await verifier.credentials.get(id)).username !== (await verifier.admin.get(param(request, 'username'))).username) throw new InvalidInputError('that token is not this user\'s');
      if (chosen.lifecycle) await verifier.credentials.apply(consoleActor(request), id, chosen.lifecycle, chosen.lifecycle === 'block' ? 'reported lost (console)' : chosen.lifecycle);
      else await verifier.credentials.unlock(consoleActor(request), id);
      return redirectWith(reply, back(request), 'done');
    },
  });
  action(web, '/console/users/:username/temporary-password', {
    required: ['deliver'],
    optional: ['validDays'],
    params: ['username'],
    guard: 'temporary-password',
    page: user,
    handle: async (request, reply) => {
      const { deliver, validDays } = form(request);
      if (deliver !== 'mail' && deliver !== 'show') throw new InvalidInputError('deliver: mail or show');
      const days = optionalText(validDays);
      const issued = await verifier.temporaryPasswords.issue(consoleActor(request), param(request, 'username'), { deliver, ...(days ? { validDays: Number(days) } : {}) });
      if (deliver === 'mail') return redirectWith(reply, back(request), 'temporary-mailed');
      // Shown once, on this answer only: not in a URL, not cached (no-store).
      return render(request, reply, user.template, { ...(await user.load(request)), shown: issued });
    },
  });
}

/** Ranges typed one per line or separated by commas or spaces. */
function splitRanges(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).filter(Boolean);
}
