// What each console role may do: the API's scopes, action by action (http/routes/*.ts), so a
// helpdesk key can do in the console exactly what it can do over the API. The console shows only
// the permitted actions, and the server refuses the others whatever a form posts.
import type { ApiKeyScope } from '../access/api-keys.js';
import type { UserAction } from '../accounts/admin.js';
import type { WebIdentity } from '../access/web-sessions.js';
import { ForbiddenError } from '../errors.js';

const ADMIN: readonly ApiKeyScope[] = ['admin'];
const HELPDESK: readonly ApiKeyScope[] = ['admin', 'helpdesk'];
const AUDIT: readonly ApiKeyScope[] = ['admin', 'audit'];

export const CONSOLE_PERMISSIONS = {
  'users.read': HELPDESK,
  'users.create': ADMIN,
  'users.deactivate': ADMIN,
  'users.reactivate': ADMIN,
  'users.freeze': HELPDESK,
  'users.unfreeze': HELPDESK,
  'users.unlock': HELPDESK,
  'users.password': ADMIN,
  'users.login-ranges': ADMIN,
  'ranges.read': HELPDESK,
  'ranges.change': ADMIN,
  'credentials.block': HELPDESK,
  'credentials.unlock': HELPDESK,
  'credentials.enable': ADMIN,
  'credentials.revoke': ADMIN,
  'temporary-password': HELPDESK,
  'audit.read': AUDIT,
} as const satisfies Record<string, readonly ApiKeyScope[]>;

export type ConsolePermission = keyof typeof CONSOLE_PERMISSIONS;

export const USER_ACTIONS: readonly UserAction[] = ['deactivate', 'reactivate', 'freeze', 'unfreeze', 'unlock'];

export function may(identity: WebIdentity | undefined, permission: ConsolePermission): boolean {
  return identity?.kind === 'console' && CONSOLE_PERMISSIONS[permission].some((scope) => identity.scopes.includes(scope));
}

/** Throws ForbiddenError unless the console session's key has a scope the permission allows. */
export function demand(identity: WebIdentity | undefined, permission: ConsolePermission): void {
  if (!may(identity, permission)) throw new ForbiddenError(`your role may not do this (${permission} needs the ${CONSOLE_PERMISSIONS[permission].join(' or ')} scope)`);
}

/** Everything the identity may do, for the templates to show only those controls. */
export function permissionsOf(identity: WebIdentity | undefined): Record<ConsolePermission, boolean> {
  return Object.fromEntries(Object.keys(CONSOLE_PERMISSIONS).map((p) => [p, may(identity, p as ConsolePermission)])) as Record<ConsolePermission, boolean>;
}
