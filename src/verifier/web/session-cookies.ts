// The two session cookies — the self-service pages' and the console's, each limited to its own
// path — and the hook that resolves them into `request.web` before anything else runs. Cookies
// are HttpOnly, SameSite=Strict, Secure when the request came over TLS, and carry no expiry
// (the store decides how long a session lives).
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { WebSession } from '../access/web-sessions.js';
import type { Verifier } from '../verifier.js';

export type Area = 'account' | 'console';

export const COOKIES: Record<Area, { name: string; path: string }> = {
  account: { name: 'tg_account', path: '/account' },
  console: { name: 'tg_console', path: '/console' },
};

declare module 'fastify' {
  interface FastifyRequest {
    /** The web session of the area the URL is in, if its cookie names a live one. */
    web?: { area: Area; session: WebSession | undefined };
  }
}

export function areaOf(url: string): Area {
  return url === '/console' || url.startsWith('/console/') || url.startsWith('/console?') ? 'console' : 'account';
}

export function cookieOptions(request: FastifyRequest, area?: Area) {
  return { path: area ? COOKIES[area].path : '/', httpOnly: true, sameSite: 'strict' as const, secure: request.protocol === 'https' };
}

export function sessionCookie(request: FastifyRequest, area: Area): string | undefined {
  return request.cookies[COOKIES[area].name];
}

export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, area: Area, session: WebSession): void {
  void reply.setCookie(COOKIES[area].name, session.cookie, cookieOptions(request, area));
  request.web = { area, session };
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply, area: Area): void {
  void reply.clearCookie(COOKIES[area].name, cookieOptions(request, area));
  request.web = { area, session: undefined };
}

/** An onRequest hook: `request.web` for the URL's area, the session looked up in the store. */
export function resolveSessions(verifier: Verifier) {
  return async (request: FastifyRequest): Promise<void> => {
    const area = areaOf(request.url);
    request.web = { area, session: await verifier.webSessions.resume(sessionCookie(request, area)) };
  };
}

/** What the CSRF token is bound to: the area's session, or none yet (the sign-in forms). */
export function csrfBinding(request: FastifyRequest): string {
  const session = request.web?.session;
  return session ? `${request.web!.area}:${session.binding}` : `${request.web?.area ?? 'account'}:anonymous`;
}
