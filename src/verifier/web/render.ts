// Rendering a page: the template, the data every page needs (who is signed in, what they may do,
// a fresh CSRF token bound to the session, a notice or an error), and the status. Errors become
// sentences a person can act on; a failed login stays the API's one generic answer. Notices come
// from a fixed list, so a query string can never put text of its own on a page.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { RateLimitedError, VerifierError } from '../errors.js';
import { httpStatusOf } from '../http/errors.js';
import { permissionsOf } from './roles.js';
import { csrfBinding } from './session-cookies.js';

export const NOTICES = {
  'signed-out': 'You are signed out.',
  'token-mailed':
    'Check your email: your new security token is on its way to the address on your profile. The old one stopped working just now, and you were signed out everywhere — sign in with the new one.',
  'password-changed': 'Your password is changed. Your security token was reset too: check your email for the new one, then sign in again.',
  'reported-lost':
    'It is blocked: it no longer works anywhere, and kiosks refuse it as soon as they next fetch the blocklist. Until a new one arrives, the helpdesk can give you a temporary password: with your own password and that one you can sign in (it is valid for 10 days unless they say otherwise).',
  'key-registered': 'Your security key is registered: you can sign in with it now.',
  'token-revoked': 'The token is revoked: logins that use it now fail.',
  done: 'Done.',
  'user-created': 'The user is created; their first security token is on its way by mail.',
  'password-reset': 'The password is reset. Their security tokens were reset and mailed, and their sessions ended.',
  'temporary-mailed': 'A temporary password is on its way to the user by mail.',
} as const;

export type Notice = keyof typeof NOTICES;

export function noticeOf(value: unknown): string | undefined {
  return typeof value === 'string' && Object.hasOwn(NOTICES, value) ? NOTICES[value as Notice] : undefined;
}

/** The sentence an error shows on a page, and the status it answers with. */
export function describeError(error: unknown): { status: number; message: string } | undefined {
  if (!(error instanceof VerifierError)) return undefined;
  const status = httpStatusOf(error.code);
  // A store that is away (503) is said as it is; other server errors are not described.
  if (status >= 500 && status !== 503) return undefined;
  const message = error.message.charAt(0).toUpperCase() + error.message.slice(1);
  return { status, message: /[.!?]$/.test(message) ? message : `${message}.` };
}

export interface PageData {
  readonly title: string;
  readonly [key: string]: unknown;
}

export async function render(request: FastifyRequest, reply: FastifyReply, template: string, data: PageData, status = 200): Promise<FastifyReply> {
  const session = request.web?.session;
  const query = request.query as Record<string, unknown> | undefined;
  const csrf = reply.generateCsrf({ userInfo: csrfBinding(request), secure: request.protocol === 'https' });
  const html = await reply.viewAsync(template, {
    notice: noticeOf(query?.notice),
    error: undefined,
    ...data,
    area: request.web?.area ?? 'account',
    who: session?.identity,
    can: permissionsOf(session?.identity),
    csrf,
  });
  return reply.code(status).type('text/html; charset=utf-8').send(html);
}

/** Renders the page again with the error's sentence (announced: role="alert"), or rethrows what is not ours to explain. */
export async function renderError(request: FastifyRequest, reply: FastifyReply, error: unknown, template: string, data: PageData): Promise<FastifyReply> {
  const described = describeError(error);
  if (!described) throw error;
  if (error instanceof RateLimitedError) void reply.header('retry-after', String(error.retryAfterSeconds));
  return render(request, reply, template, { ...data, error: described.message }, described.status);
}

/** After a change: Post/Redirect/Get, with a notice from the fixed list. */
export function redirectWith(reply: FastifyReply, path: string, notice?: Notice): FastifyReply {
  return reply.redirect(notice ? `${path}${path.includes('?') ? '&' : '?'}notice=${notice}` : path, 303);
}
