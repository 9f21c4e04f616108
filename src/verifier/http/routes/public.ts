// The routes anyone may call: login, self-service behind the current password, the security keys'
// relying party, and health.
import type { FastifyInstance } from 'fastify';
import type { Verifier } from '../../verifier.js';
import { acceptedReply, errorReply, loginBody, loginReply, passwordChangeBody, relyingPartyReply, tokenResetBody } from '../schemas.js';

interface LoginBody {
  username: string;
  password: string;
  securityToken?: string;
}

export function publicRoutes(app: FastifyInstance, verifier: Verifier): void {
  const failures = { 400: errorReply, 401: errorReply, 409: errorReply, 429: errorReply };

  app.post<{ Body: LoginBody }>(
    '/v1/login',
    { schema: { summary: 'Check password + security token', body: loginBody, response: { 200: loginReply, ...failures } } },
    async (request) => {
      const result = await verifier.login({ ...request.body, clientIp: request.ip });
      return { result: 'ok', ...result };
    },
  );

  app.post<{ Body: { username: string; password: string; name?: string } }>(
    '/v1/self/security-token/reset',
    { schema: { summary: 'Reset a security token (mailed, never shown)', body: tokenResetBody, response: { 202: acceptedReply, ...failures } } },
    async (request, reply) => {
      await verifier.selfService.resetSecurityToken({ ...request.body, clientIp: request.ip });
      return reply.code(202).send({ result: 'mailed' });
    },
  );

  app.post<{ Body: { username: string; password: string; newPassword: string } }>(
    '/v1/self/password',
    { schema: { summary: 'Change the password (resets and mails the security tokens)', body: passwordChangeBody, response: { 202: acceptedReply, ...failures } } },
    async (request, reply) => {
      await verifier.selfService.changePassword({ ...request.body, clientIp: request.ip });
      return reply.code(202).send({ result: 'mailed' });
    },
  );

  // Public as any WebAuthn options are: a kiosk or app learns which relying party its keys must
  // unlock and sign for without issuing (and wasting) a challenge.
  app.get(
    '/v1/fido/relying-party',
    { schema: { summary: 'The relying party security keys sign for: rpId, name, accepted origins, whether every login needs user verification', response: { 200: relyingPartyReply } } },
    async () => {
      const { rpId, rpName, origins, requireUserVerification } = verifier.relyingParty;
      return { rpId, rpName, origins: [...origins], requireUserVerification };
    },
  );

  app.get('/health', { schema: { summary: 'Liveness and store round trip', response: { 200: { type: 'object', properties: { status: { type: 'string' }, pendingMail: { type: 'integer' } } } } } }, async () => {
    await verifier.ping();
    return { status: 'ok', pendingMail: await verifier.pendingMail() };
  });
}
