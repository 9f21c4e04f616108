// Challenge-policy routes (admin; the helpdesk may read the ranges): `token-only` or
// `password+token` for a user, and for a client range, whose policy overrides each user's own for
// addresses inside it (a kiosk network, say). A kiosk sends no password, so its users need
// `token-only`, or its network a range that says so.
import type { FastifyInstance } from 'fastify';
import type { Verifier } from '../../verifier.js';
import { actorOf, requireScope } from '../access.js';
import { errorReply, usernameParams } from '../schemas.js';
import { policyBody, rangePolicy, rangePolicyBody, rangePolicyQuery } from '../token-schemas.js';

const failures = { 400: errorReply, 401: errorReply, 403: errorReply, 404: errorReply, 409: errorReply };
const security = [{ apiKey: [] }];
const noContent = { 204: { type: 'null' }, ...failures };

export function policyRoutes(app: FastifyInstance, verifier: Verifier): void {
  const admin = { preHandler: requireScope(verifier, 'admin') };
  const helpdesk = { preHandler: requireScope(verifier, 'admin', 'helpdesk') };

  app.put<{ Params: { username: string }; Body: { policy: string } }>(
    '/v1/admin/users/:username/challenge-policy',
    { ...admin, schema: { summary: 'token-only or password+token for this user (a client range\'s policy overrides it)', security, params: usernameParams, body: policyBody, response: noContent } },
    async (request, reply) => {
      await verifier.admin.setChallengePolicy(actorOf(request), request.params.username, request.body.policy);
      return reply.code(204).send();
    },
  );

  app.get(
    '/v1/admin/challenge-policy-ranges',
    { ...helpdesk, schema: { summary: 'Client ranges with their own challenge policy', security, response: { 200: { type: 'array', items: rangePolicy }, ...failures } } },
    async () => verifier.organisation.challengePolicyRanges(),
  );

  app.put<{ Body: { cidr: string; policy: string } }>(
    '/v1/admin/challenge-policy-ranges',
    {
      ...admin,
      schema: { summary: 'Set the challenge policy for clients inside a range (overrides each user\'s own there)', security, body: rangePolicyBody, response: { 200: rangePolicy, ...failures } },
    },
    async (request) => ({ cidr: await verifier.organisation.setChallengePolicyRange(actorOf(request), request.body.cidr, request.body.policy), policy: request.body.policy }),
  );

  app.delete<{ Querystring: { cidr: string } }>(
    '/v1/admin/challenge-policy-ranges',
    { ...admin, schema: { summary: 'Remove a range\'s challenge policy (its clients fall back to each user\'s own)', security, querystring: rangePolicyQuery, response: noContent } },
    async (request, reply) => {
      // Like removing a trusted range: gone either way, so 204 either way (the audit says which).
      await verifier.organisation.clearChallengePolicyRange(actorOf(request), request.query.cidr);
      return reply.code(204).send();
    },
  );
}
