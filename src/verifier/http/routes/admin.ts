// Admin and helpdesk routes (API keys with the `admin` or `helpdesk` scope), and the audit query.
import type { FastifyInstance } from 'fastify';
import type { UserAction } from '../../accounts/admin.js';
import type { Verifier } from '../../verifier.js';
import { actorOf, requireScope } from '../access.js';
import {
  acceptedReply,
  adminPasswordBody,
  auditQuery,
  auditReply,
  errorReply,
  newUserBody,
  rangesBody,
  tokenNameBody,
  tokenParams,
  trustedRangeBody,
  trustedRangeQuery,
  trustedRangesReply,
  userActionParams,
  userListQuery,
  usernameParams,
  userView,
} from '../schemas.js';

const failures = { 400: errorReply, 401: errorReply, 403: errorReply, 404: errorReply, 409: errorReply };
const security = [{ apiKey: [] }];
/** Users a page of the listing holds unless the caller asks for another number (up to 1,000). */
const USER_PAGE = 100;

export function adminRoutes(app: FastifyInstance, verifier: Verifier): void {
  const admin = { preHandler: requireScope(verifier, 'admin') };
  const helpdesk = { preHandler: requireScope(verifier, 'admin', 'helpdesk') };
  const auditor = { preHandler: requireScope(verifier, 'admin', 'audit') };
  type Username = { Params: { username: string } };

  app.post<{ Body: { username: string; email: string; password: string; loginIpRanges?: string[] } }>(
    '/v1/admin/users',
    { ...admin, schema: { summary: 'Create a user (their first token is mailed)', security, body: newUserBody, response: { 201: userView, ...failures } } },
    async (request, reply) => reply.code(201).send(await verifier.admin.create(actorOf(request), request.body)),
  );

  app.get<{ Querystring: { search?: string; after?: string; before?: string; limit?: string } }>(
    '/v1/admin/users',
    {
      ...helpdesk,
      schema: {
        summary: 'One page of users (username order; `search`: a username prefix, or an email prefix with an @); the next and previous pages are in the Link header',
        security,
        querystring: userListQuery,
        response: { 200: { type: 'array', items: userView }, ...failures },
      },
    },
    async (request, reply) => {
      const { search = '', after, before, limit = String(USER_PAGE) } = request.query;
      const page = await verifier.admin.search({ text: search, after, before, limit: Number(limit) });
      const link = (rel: string, cursor: Record<string, string>) => `</v1/admin/users?${new URLSearchParams({ ...(search ? { search } : {}), ...cursor, limit })}>; rel="${rel}"`;
      const links = [...(page.next === undefined ? [] : [link('next', { after: page.next })]), ...(page.previous === undefined ? [] : [link('prev', { before: page.previous })])];
      if (links.length) reply.header('link', links.join(', '));
      return page.users;
    },
  );

  app.get<Username>(
    '/v1/admin/users/:username',
    { ...helpdesk, schema: { summary: 'One user (token names and ages, never tokens)', security, params: usernameParams, response: { 200: userView, ...failures } } },
    async (request) => verifier.admin.get(request.params.username),
  );

  app.post<{ Params: { username: string; action: UserAction } }>(
    '/v1/admin/users/:username/:action',
    { schema: { summary: 'deactivate, reactivate, freeze, unfreeze or unlock', security, params: userActionParams, response: { 204: { type: 'null' }, ...failures } } },
    async (request, reply) => {
      // The helpdesk may unlock, freeze and unfreeze; the rest is an admin's.
      const { action } = request.params;
      await requireScope(verifier, ...(['unlock', 'freeze', 'unfreeze'].includes(action) ? (['admin', 'helpdesk'] as const) : (['admin'] as const)))(request);
      await verifier.admin.apply(actorOf(request), request.params.username, action);
      return reply.code(204).send();
    },
  );

  app.delete<Username>(
    '/v1/admin/users/:username',
    { ...admin, schema: { summary: 'Delete a user (the audit log keeps their history)', security, params: usernameParams, response: { 204: { type: 'null' }, ...failures } } },
    async (request, reply) => {
      await verifier.admin.delete(actorOf(request), request.params.username);
      return reply.code(204).send();
    },
  );

  app.put<Username & { Body: { ranges: string[] } }>(
    '/v1/admin/users/:username/login-ip-ranges',
    { ...admin, schema: { summary: 'Restrict logins to IP ranges (the user then has no token)', security, params: usernameParams, body: rangesBody, response: { 204: { type: 'null' }, ...failures } } },
    async (request, reply) => {
      await verifier.admin.setLoginIpRanges(actorOf(request), request.params.username, request.body.ranges);
      return reply.code(204).send();
    },
  );

  app.post<Username & { Body: { newPassword: string } }>(
    '/v1/admin/users/:username/password',
    { ...admin, schema: { summary: 'Reset the password (tokens are reset and mailed)', security, params: usernameParams, body: adminPasswordBody, response: { 204: { type: 'null' }, ...failures } } },
    async (request, reply) => {
      await verifier.admin.resetPassword(actorOf(request), request.params.username, request.body.newPassword);
      return reply.code(204).send();
    },
  );

  app.post<Username & { Body: { name: string } }>(
    '/v1/admin/users/:username/security-tokens',
    { ...admin, schema: { summary: 'Create or reset a named token (mailed)', security, params: usernameParams, body: tokenNameBody, response: { 202: acceptedReply, ...failures } } },
    async (request, reply) => {
      await verifier.admin.issueToken(actorOf(request), request.params.username, request.body.name);
      return reply.code(202).send({ result: 'mailed' });
    },
  );

  app.delete<{ Params: { username: string; name: string } }>(
    '/v1/admin/users/:username/security-tokens/:name',
    { ...admin, schema: { summary: 'Revoke a named token', security, params: tokenParams, response: { 204: { type: 'null' }, ...failures } } },
    async (request, reply) => {
      await verifier.admin.revokeToken(actorOf(request), request.params.username, request.params.name);
      return reply.code(204).send();
    },
  );

  app.get('/v1/admin/trusted-ip-ranges', { ...helpdesk, schema: { summary: 'Trusted IP ranges', security, response: { 200: trustedRangesReply, ...failures } } }, async () =>
    verifier.organisation.trustedRanges(),
  );

  app.post<{ Body: { cidr: string; description?: string } }>(
    '/v1/admin/trusted-ip-ranges',
    { ...admin, schema: { summary: 'Add a trusted IP range', security, body: trustedRangeBody, response: { 201: { type: 'object', properties: { cidr: { type: 'string' } } }, ...failures } } },
    async (request, reply) => reply.code(201).send({ cidr: await verifier.organisation.addTrustedRange(actorOf(request), request.body.cidr, request.body.description) }),
  );

  app.delete<{ Querystring: { cidr: string } }>(
    '/v1/admin/trusted-ip-ranges',
    { ...admin, schema: { summary: 'Remove a trusted IP range', security, querystring: trustedRangeQuery, response: { 204: { type: 'null' }, ...failures } } },
    async (request, reply) => {
      await verifier.organisation.removeTrustedRange(actorOf(request), request.query.cidr);
      return reply.code(204).send();
    },
  );

  app.get<{ Querystring: { subject?: string; action?: string; after?: string; limit?: string } }>(
    '/v1/audit',
    { ...auditor, schema: { summary: 'Query the audit log', security, querystring: auditQuery, response: { 200: auditReply, ...failures } } },
    async (request) => {
      const { subject, action, after, limit } = request.query;
      return verifier.audit({ subject, action, after: after === undefined ? undefined : Number(after), limit: limit === undefined ? undefined : Number(limit) });
    },
  );
}
