// Hardware-token routes: challenges and their responses (cards, and security keys over WebAuthn),
// the temporary-password login, the blocklist for kiosks (ETag, so polling costs a 304),
// self-service and admin enrollment, and the credential lifecycle (the helpdesk may block, unlock
// and issue temporary passwords). Security keys' binary fields travel base64url, as WebAuthn's JSON.
import type { FastifyInstance } from 'fastify';
import type { SignatureAlgorithm, SignatureFormat } from '../../../algorithms/signature.js';
import type { ChallengePurpose } from '../../protocol.js';
import type { CredentialSelector } from '../../tokens/challenges.js';
import type { EnrollInput, FidoRegistrationInput, LifecycleAction } from '../../tokens/registry.js';
import type { Verifier } from '../../verifier.js';
import { actorOf, requireScope } from '../access.js';
import { errorReply, usernameParams } from '../schemas.js';
import {
  blocklistReply,
  challengeBody,
  challengeReply,
  credentialActionParams,
  credentialView,
  enrolledCredentialView,
  enrollBody,
  fidoChallengeBody,
  fidoChallengeReply,
  fidoRegisterBody,
  fidoRegistrationOptionsBody,
  fidoRegistrationReply,
  fidoResponseBody,
  fidoResponseReply,
  reasonBody,
  selfFidoRegisterBody,
  selfFidoRegistrationOptionsBody,
  responseBody,
  responseReply,
  selfEnrollBody,
  temporaryLoginBody,
  temporaryPasswordBody,
} from '../token-schemas.js';

const failures = { 400: errorReply, 401: errorReply, 403: errorReply, 404: errorReply, 409: errorReply, 422: errorReply, 429: errorReply };
const security = [{ apiKey: [] }];
const noContent = { 204: { type: 'null' }, ...failures };

interface EnrollBody {
  certificate?: string;
  publicKey?: string;
  serial?: string;
  label?: string;
}

interface FidoRegisterBody {
  challengeId: string;
  attestationObject: string;
  clientDataJSON: string;
  label?: string;
  transports?: string[];
}

function fidoRegistration(username: string, body: FidoRegisterBody): FidoRegistrationInput {
  return {
    username,
    challengeId: body.challengeId,
    attestationObject: Buffer.from(body.attestationObject, 'base64url'),
    clientDataJSON: Buffer.from(body.clientDataJSON, 'base64url'),
    ...(body.label !== undefined ? { label: body.label } : {}),
    ...(body.transports !== undefined ? { transports: body.transports } : {}),
  };
}

function enrollInput(username: string, body: EnrollBody): EnrollInput {
  return {
    username,
    ...(body.certificate !== undefined ? { certificate: body.certificate } : {}),
    ...(body.publicKey !== undefined ? { publicKey: Buffer.from(body.publicKey, 'base64') } : {}),
    ...(body.serial !== undefined ? { serial: body.serial } : {}),
    ...(body.label !== undefined ? { label: body.label } : {}),
  };
}

export function tokenRoutes(app: FastifyInstance, verifier: Verifier): void {
  app.post<{ Body: { username?: string; credential: CredentialSelector; purpose: ChallengePurpose } }>(
    '/v1/challenges',
    { schema: { summary: 'Issue a challenge for an enrolled token', body: challengeBody, response: { 201: challengeReply, ...failures } } },
    async (request, reply) => {
      const issued = await verifier.challenges.issue({ ...request.body, clientIp: request.ip });
      return reply.code(201).send({ ...issued, message: issued.message.toString('base64') });
    },
  );

  app.post<{ Params: { id: string }; Body: { username: string; purpose: ChallengePurpose; signature: string; algorithm: SignatureAlgorithm; format?: SignatureFormat; password?: string } }>(
    '/v1/challenges/:id/response',
    {
      schema: {
        summary: 'Answer a challenge with the token\'s signature (and the password when the policy wants it)',
        params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        body: responseBody,
        response: { 200: responseReply, ...failures },
      },
    },
    async (request) => {
      const { signature, ...rest } = request.body;
      const result = await verifier.challenges.respond({ ...rest, challengeId: request.params.id, signature: Buffer.from(signature, 'base64'), clientIp: request.ip });
      return { result: 'ok', ...result };
    },
  );

  app.post<{ Body: { username?: string; credentialIds?: string[]; purpose: ChallengePurpose } }>(
    '/v1/fido/challenges',
    { schema: { summary: 'Issue a challenge for a security key (WebAuthn request options)', body: fidoChallengeBody, response: { 201: fidoChallengeReply, ...failures } } },
    async (request, reply) => reply.code(201).send(await verifier.challenges.issueFido({ ...request.body, clientIp: request.ip })),
  );

  app.post<{ Params: { id: string }; Body: { username?: string; purpose: ChallengePurpose; credentialId: string; authenticatorData: string; clientDataJSON: string; signature: string; password?: string } }>(
    '/v1/fido/challenges/:id/response',
    {
      schema: {
        summary: "Answer a security-key challenge with the key's assertion (and the password when the policy wants it)",
        params: { type: 'object', additionalProperties: false, required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        body: fidoResponseBody,
        response: { 200: fidoResponseReply, ...failures },
      },
    },
    async (request) => {
      const { authenticatorData, clientDataJSON, signature, ...rest } = request.body;
      const result = await verifier.challenges.respondFido({
        ...rest,
        challengeId: request.params.id,
        authenticatorData: Buffer.from(authenticatorData, 'base64url'),
        clientDataJSON: Buffer.from(clientDataJSON, 'base64url'),
        signature: Buffer.from(signature, 'base64url'),
        clientIp: request.ip,
      });
      return { result: 'ok', ...result };
    },
  );

  app.post<{ Body: { username: string; password: string } }>(
    '/v1/self/fido/registration-options',
    { schema: { summary: 'Start enrolling your own security key (needs your password)', body: selfFidoRegistrationOptionsBody, response: { 201: fidoRegistrationReply, ...failures } } },
    async (request, reply) => {
      await verifier.selfService.checkPassword('self.credential-enroll', { ...request.body, clientIp: request.ip });
      return reply.code(201).send(await verifier.credentials.fidoRegistrationOptions(request.body.username));
    },
  );

  app.post<{ Body: FidoRegisterBody & { username: string; password: string } }>(
    '/v1/self/fido/credentials',
    { schema: { summary: "Finish enrolling your own security key (needs your password); the reply says your challenge policy", body: selfFidoRegisterBody, response: { 201: enrolledCredentialView, ...failures } } },
    async (request, reply) => {
      const { username, password, ...body } = request.body;
      await verifier.selfService.checkPassword('self.credential-enroll', { username, password, clientIp: request.ip });
      return reply.code(201).send(await verifier.credentials.registerFido(username, fidoRegistration(username, body)));
    },
  );

  app.post<{ Body: { username: string; password: string; temporaryPassword: string } }>(
    '/v1/login/temporary',
    { schema: { summary: 'Log in with the password and a temporary replacement password', body: temporaryLoginBody, response: { 200: responseReply, ...failures } } },
    async (request) => ({ result: 'ok', ...(await verifier.temporaryPasswords.login({ ...request.body, clientIp: request.ip })) }),
  );

  app.get('/v1/blocklist', { schema: { summary: 'Serials, certificate fingerprints and security-key credential ids of blocked and revoked tokens (ETag)', response: { 200: blocklistReply, 304: { type: 'null' } } } }, async (request, reply) => {
    const list = await verifier.credentials.blocklist();
    const etag = `"blocklist-${list.version}"`;
    void reply.header('etag', etag).header('cache-control', 'no-cache');
    if (request.headers['if-none-match'] === etag) return reply.code(304).send();
    return list;
  });

  app.post<{ Body: EnrollBody & { username: string; password: string } }>(
    '/v1/self/credentials',
    { schema: { summary: 'Enroll your own token (needs your password); the reply says your challenge policy', body: selfEnrollBody, response: { 201: enrolledCredentialView, ...failures } } },
    async (request, reply) => {
      const { username, password, ...body } = request.body;
      await verifier.selfService.checkPassword('self.credential-enroll', { username, password, clientIp: request.ip });
      return reply.code(201).send(await verifier.credentials.enroll(username, enrollInput(username, body)));
    },
  );

  const admin = { preHandler: requireScope(verifier, 'admin') };
  const helpdesk = { preHandler: requireScope(verifier, 'admin', 'helpdesk') };

  app.post<{ Params: { username: string }; Body: EnrollBody }>(
    '/v1/admin/users/:username/credentials',
    { ...admin, schema: { summary: "Enroll a token for a user; the reply says the user's challenge policy", security, params: usernameParams, body: enrollBody, response: { 201: enrolledCredentialView, ...failures } } },
    async (request, reply) => reply.code(201).send(await verifier.credentials.enroll(actorOf(request), enrollInput(request.params.username, request.body))),
  );

  app.post<{ Params: { username: string } }>(
    '/v1/admin/users/:username/fido/registration-options',
    { ...admin, schema: { summary: 'Start enrolling a security key for a user (WebAuthn creation options)', security, params: usernameParams, body: fidoRegistrationOptionsBody, response: { 201: fidoRegistrationReply, ...failures } } },
    async (request, reply) => reply.code(201).send(await verifier.credentials.fidoRegistrationOptions(request.params.username)),
  );

  app.post<{ Params: { username: string }; Body: FidoRegisterBody }>(
    '/v1/admin/users/:username/fido/credentials',
    { ...admin, schema: { summary: "Finish enrolling a security key for a user; the reply says the user's challenge policy", security, params: usernameParams, body: fidoRegisterBody, response: { 201: enrolledCredentialView, ...failures } } },
    async (request, reply) => reply.code(201).send(await verifier.credentials.registerFido(actorOf(request), fidoRegistration(request.params.username, request.body))),
  );

  app.get<{ Params: { username: string } }>(
    '/v1/admin/users/:username/credentials',
    { ...helpdesk, schema: { summary: 'A user\'s enrolled tokens', security, params: usernameParams, response: { 200: { type: 'array', items: credentialView }, ...failures } } },
    async (request) => verifier.credentials.list(request.params.username),
  );

  app.post<{ Params: { id: string; action: LifecycleAction | 'unlock' }; Body: { reason?: string } | null }>(
    '/v1/admin/credentials/:id/:action',
    { schema: { summary: 'disable, enable, block (lost), revoke or unlock a token', security, params: credentialActionParams, body: reasonBody, response: noContent } },
    async (request, reply) => {
      const { id, action } = request.params;
      // The helpdesk blocks lost tokens and unlocks; the rest is an admin's.
      await requireScope(verifier, ...(action === 'block' || action === 'unlock' ? (['admin', 'helpdesk'] as const) : (['admin'] as const)))(request);
      if (action === 'unlock') await verifier.credentials.unlock(actorOf(request), id);
      else await verifier.credentials.apply(actorOf(request), id, action, request.body?.reason ?? action);
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/admin/credentials/:id',
    { ...admin, schema: { summary: 'Delete a token credential (the audit log keeps it)', security, params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } }, response: noContent } },
    async (request, reply) => {
      await verifier.credentials.delete(actorOf(request), request.params.id);
      return reply.code(204).send();
    },
  );

  app.post<{ Params: { username: string }; Body: { deliver: 'mail' | 'show'; validDays?: number } }>(
    '/v1/admin/users/:username/temporary-password',
    {
      ...helpdesk,
      schema: {
        summary: 'Issue a temporary replacement password for a lost token (mailed, or shown once)',
        security,
        params: usernameParams,
        body: temporaryPasswordBody,
        response: { 201: { type: 'object', properties: { password: { type: 'string' }, expiresAt: { type: 'string', format: 'date-time' } } }, ...failures },
      },
    },
    async (request, reply) => reply.code(201).send(await verifier.temporaryPasswords.issue(actorOf(request), request.params.username, request.body)),
  );
}
