// The console's door and its organisation-wide page: sign in with an API key (its scopes are the
// role: admin, helpdesk or audit), sign out, and the trusted IP ranges (inside them the password
// alone is enough). The landing page is the first one the role may see.
import type { FastifyInstance } from 'fastify';
import type { Verifier } from '../verifier.js';
import { redirectWith } from './render.js';
import { action, consoleActor as actorOf, form, page, signOutRoute, startSession } from './routing.js';
import { may } from './roles.js';

export function consoleRoutes(web: FastifyInstance, verifier: Verifier): void {
  const signIn = page(web, '/console/sign-in', { template: 'console/sign-in', guard: 'anyone', load: async () => ({ title: 'Console sign-in' }) });
  action(web, '/console/sign-in', {
    required: ['apiKey'],
    guard: 'anyone',
    page: signIn,
    handle: async (request, reply) => {
      return startSession(request, reply, 'console', (previous) => verifier.webSessions.signInConsole((form(request).apiKey ?? '').trim(), request.ip, previous));
    },
  });

  signOutRoute(web, verifier, 'console');

  web.get('/console', { schema: { hide: true } }, async (request, reply) => {
    const identity = request.web?.session?.identity;
    if (identity?.kind !== 'console') return reply.redirect('/console/sign-in', 303);
    return reply.redirect(may(identity, 'users.read') ? '/console/users' : '/console/audit', 303);
  });

  const ranges = page(web, '/console/ip-ranges', {
    template: 'console/ip-ranges',
    guard: 'ranges.read',
    load: async () => ({ title: 'Trusted IP ranges', ranges: await verifier.organisation.trustedRanges() }),
  });
  action(web, '/console/ip-ranges', {
    required: ['cidr'],
    optional: ['description'],
    guard: 'ranges.change',
    page: ranges,
    handle: async (request, reply) => {
      const { cidr = '', description } = form(request);
      await verifier.organisation.addTrustedRange(actorOf(request), cidr.trim(), description?.trim());
      return redirectWith(reply, '/console/ip-ranges', 'done');
    },
  });
  action(web, '/console/ip-ranges/remove', {
    required: ['cidr'],
    guard: 'ranges.change',
    page: ranges,
    handle: async (request, reply) => {
      await verifier.organisation.removeTrustedRange(actorOf(request), form(request).cidr ?? '');
      return redirectWith(reply, '/console/ip-ranges', 'done');
    },
  });
}
