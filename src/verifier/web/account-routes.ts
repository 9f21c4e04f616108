// The self-service pages (/account): sign in and out, Reset My Security Token, change password,
// named tokens, and the user's cards. Each change goes through the same library call as the API's
// (behind the current password, counted like a login); a reset that mails a new token or password
// ends every session of the user, so the browser is sent to sign in again, told to check its mail.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { CredentialNotFoundError, InvalidInputError } from '../errors.js';
import type { Verifier } from '../verifier.js';
import { optionalText } from './forms.js';
import { redirectWith } from './render.js';
import { action, form, identityOf, page, param } from './routing.js';
import { clearSessionCookie, sessionCookie, setSessionCookie } from './session-cookies.js';

export function accountRoutes(web: FastifyInstance, verifier: Verifier): void {
  const signedIn = (request: FastifyRequest) => (request.web?.session?.identity.kind === 'user' ? identityOf(request, 'user') : undefined);
  const typed = (request: FastifyRequest) => ({ username: form(request).username ?? '' });

  const signIn = page(web, '/account/sign-in', {
    template: 'account/sign-in',
    guard: 'anyone',
    load: async (request) => ({ title: 'Sign in', tokenLength: verifier.tokenLength, values: typed(request) }),
  });
  action(web, '/account/sign-in', {
    required: ['username', 'password'],
    optional: ['securityToken'],
    guard: 'anyone',
    page: signIn,
    handle: async (request, reply) => {
      const { username = '', password = '', securityToken } = form(request);
      const session = await verifier.webSessions.signIn({ username, password, securityToken: optionalText(securityToken), clientIp: request.ip }, sessionCookie(request, 'account'));
      setSessionCookie(request, reply, 'account', session);
      return reply.redirect('/account', 303);
    },
  });

  web.post('/account/sign-out', { schema: { hide: true } }, async (request, reply) => {
    await verifier.webSessions.end(sessionCookie(request, 'account'));
    clearSessionCookie(request, reply, 'account');
    return redirectWith(reply, '/account/sign-in', 'signed-out');
  });

  page(web, '/account', {
    template: 'account/home',
    guard: 'user',
    load: async (request) => {
      const user = await verifier.admin.get(identityOf(request, 'user').username);
      return { title: 'My settings', user };
    },
  });

  // Reset My Security Token: signed in (the password confirms it), or signed out with the username
  // too — the API allows it with the password alone, and a user who lost the token needs it most.
  const tokenReset = page(web, '/account/security-token', {
    template: 'account/security-token',
    guard: 'anyone',
    load: async (request) => ({ title: 'Reset My Security Token', user: signedIn(request), values: typed(request) }),
  });
  action(web, '/account/security-token', {
    required: ['password'],
    optional: ['username'],
    guard: 'anyone',
    page: tokenReset,
    handle: async (request, reply) => {
      const { password = '', username } = form(request);
      await verifier.selfService.resetSecurityToken({ username: signedIn(request)?.username ?? username ?? '', password, clientIp: request.ip });
      clearSessionCookie(request, reply, 'account');
      return redirectWith(reply, '/account/sign-in', 'token-mailed');
    },
  });

  const password = page(web, '/account/password', { template: 'account/password', guard: 'user', load: async () => ({ title: 'Change my password' }) });
  action(web, '/account/password', {
    required: ['password', 'newPassword', 'confirmPassword'],
    guard: 'user',
    page: password,
    handle: async (request, reply) => {
      const { password: current = '', newPassword = '', confirmPassword } = form(request);
      if (newPassword !== confirmPassword) throw new InvalidInputError('the new password and its confirmation differ');
      await verifier.selfService.changePassword({ username: identityOf(request, 'user').username, password: current, newPassword, clientIp: request.ip });
      clearSessionCookie(request, reply, 'account');
      return redirectWith(reply, '/account/sign-in', 'password-changed');
    },
  });

  const tokens = page(web, '/account/tokens', {
    template: 'account/tokens',
    guard: 'user',
    load: async (request) => ({ title: 'My security tokens', user: await verifier.admin.get(identityOf(request, 'user').username) }),
  });
  action(web, '/account/tokens/reset', {
    required: ['name', 'password'],
    guard: 'user',
    page: tokens,
    handle: async (request, reply) => {
      const { name = '', password: current = '' } = form(request);
      await verifier.selfService.resetSecurityToken({ username: identityOf(request, 'user').username, password: current, name: name.trim(), clientIp: request.ip });
      clearSessionCookie(request, reply, 'account');
      return redirectWith(reply, '/account/sign-in', 'token-mailed');
    },
  });
  action(web, '/account/tokens/revoke', {
    required: ['name', 'password'],
    guard: 'user',
    page: tokens,
    handle: async (request, reply) => {
      const { name = '', password: current = '' } = form(request);
      const { username } = identityOf(request, 'user');
      await verifier.selfService.checkPassword('self.token-revoke', { username, password: current, clientIp: request.ip });
      await verifier.admin.revokeToken(username, username, name);
      return redirectWith(reply, '/account/tokens', 'token-revoked');
    },
  });

  const cards = page(web, '/account/cards', {
    template: 'account/cards',
    guard: 'user',
    load: async (request) => ({ title: 'My cards', credentials: await verifier.credentials.list(identityOf(request, 'user').username) }),
  });
  action(web, '/account/cards/:id/lost', {
    required: [],
    params: ['id'],
    guard: 'user',
    page: cards,
    handle: async (request, reply) => {
      const { username } = identityOf(request, 'user');
      const credential = await verifier.credentials.get(param(request, 'id'));
      // Someone else's card is answered like no card at all.
      if (credential.username !== username) throw new CredentialNotFoundError('no such card of yours');
      await verifier.credentials.apply(username, credential.id, 'block', 'reported lost by its user');
      return redirectWith(reply, '/account/cards', 'reported-lost');
    },
  });
}
