// The self-service pages (/account): sign in and out, Reset My Security Token, change password,
// named tokens, and the user's cards and security keys (the security-key ceremonies are in
// security-key-routes.ts). Each change goes through the same library call as the API's
// (behind the current password, counted like a login); a reset that mails a new token or password
// ends every session of the user, so the browser is sent to sign in again, told to check its mail.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { CredentialNotFoundError, InvalidInputError } from '../errors.js';
import type { Verifier } from '../verifier.js';
import { optionalText } from './forms.js';
import { redirectWith } from './render.js';
import { action, form, identityOf, page, param, signedOut, signOutRoute, startSession, userPage } from './routing.js';
import { keysServedHere, securityKeyRoutes } from './security-key-routes.js';

export function accountRoutes(web: FastifyInstance, verifier: Verifier): void {
  const signedIn = (request: FastifyRequest) => (request.web?.session?.identity.kind === 'user' ? identityOf(request, 'user') : undefined);
  const typed = (request: FastifyRequest) => ({ username: form(request).username ?? '' });

  const signIn = page(web, '/account/sign-in', {
    template: 'account/sign-in',
    guard: 'anyone',
    load: async (request) => ({ title: 'Sign in', tokenLength: verifier.tokenLength, values: typed(request), keys: keysServedHere(verifier, request), script: 'security-key' }),
  });
  action(web, '/account/sign-in', {
    required: ['username', 'password'],
    optional: ['securityToken'],
    guard: 'anyone',
    page: signIn,
    handle: async (request, reply) => {
      const { username = '', password = '', securityToken } = form(request);
      return startSession(request, reply, 'account', (previous) => verifier.webSessions.signIn({ username, password, securityToken: optionalText(securityToken), clientIp: request.ip }, previous));
    },
  });

  signOutRoute(web, verifier, 'account');

  userPage(web, '/account', 'account/home', 'My settings', async (username) => ({ user: await verifier.admin.get(username) }));

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
      return signedOut(request, reply, 'token-mailed');
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
      return signedOut(request, reply, 'password-changed');
    },
  });

  const tokens = userPage(web, '/account/tokens', 'account/tokens', 'My security tokens', async (username) => ({ user: await verifier.admin.get(username) }));
  // Both token forms: a name and the current password, for the signed-in user.
  type TokenForm = { username: string; name: string; password: string; clientIp: string };
  const tokenAction = (path: string, act: (input: TokenForm, request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>) =>
    action(web, path, {
      required: ['name', 'password'],
      guard: 'user',
      page: tokens,
      handle: (request, reply) => act({ username: identityOf(request, 'user').username, name: (form(request).name ?? '').trim(), password: form(request).password ?? '', clientIp: request.ip }, request, reply),
    });
  tokenAction('/account/tokens/reset', async (input, request, reply) => {
    await verifier.selfService.resetSecurityToken(input);
    return signedOut(request, reply, 'token-mailed');
  });
  tokenAction('/account/tokens/revoke', async (input, _request, reply) => {
    await verifier.selfService.checkPassword('self.token-revoke', input);
    await verifier.admin.revokeToken(input.username, input.username, input.name);
    return redirectWith(reply, '/account/tokens', 'token-revoked');
  });

  const cards = page(web, '/account/cards', {
    template: 'account/cards',
    guard: 'user',
    load: async (request) => ({
      title: 'My cards and security keys',
      credentials: await verifier.credentials.list(identityOf(request, 'user').username),
      keys: keysServedHere(verifier, request),
      keyOrigin: verifier.relyingParty.origins[0],
      values: { label: form(request).label ?? '' },
      script: 'security-key',
    }),
  });
  action(web, '/account/cards/:id/lost', {
    required: [],
    params: ['id'],
    guard: 'user',
    page: cards,
    handle: async (request, reply) => {
      const { username } = identityOf(request, 'user');
      const credential = await verifier.credentials.get(param(request, 'id'));
      // Someone else's card or key is answered like none at all.
      if (credential.username !== username) throw new CredentialNotFoundError('no such card or key of yours');
      await verifier.credentials.apply(username, credential.id, 'block', 'reported lost by its user');
      return redirectWith(reply, '/account/cards', 'reported-lost');
    },
  });

  securityKeyRoutes(web, verifier, { signIn, cards });
}
