// The verifier's web pages, served by the verifier itself: self-service under /account, the
// admin and helpdesk console under /console, a stylesheet under /assets. Server-rendered (Eta
// templates through @fastify/view), no CDN; one small script of our own (assets/security-key.js)
// does the browser's half of WebAuthn, and every page works without it except for that. Everything here lives in its own Fastify
// scope, so the JSON API keeps its JSON-only parser, its errors and its headers. In that scope:
//   - helmet's headers with a strict Content-Security-Policy: nothing inline, nothing from elsewhere;
//   - form bodies (application/x-www-form-urlencoded), checked against a schema like the API's;
//   - a request that changes anything must come from our own origin (Sec-Fetch-Site / Origin) and
//     carry a CSRF token bound to its session (@fastify/csrf-protection, HMAC keyed by the server
//     secret, its secret in an HttpOnly SameSite=Strict cookie);
//   - pages are never cached.
import { fileURLToPath } from 'node:url';
import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import formbody from '@fastify/formbody';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Verifier } from '../verifier.js';
import { accountRoutes } from './account-routes.js';
import { consoleAuditRoutes } from './console-audit.js';
import { consoleRoutes } from './console-routes.js';
import { consoleUserRoutes } from './console-users.js';
import { describeError, render } from './render.js';
import { csrfBinding, resolveSessions } from './session-cookies.js';

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The Content-Security-Policy of every page: our own stylesheet and script, nothing inline. */
export const CONTENT_SECURITY_POLICY = {
  defaultSrc: ["'none'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'"],
  connectSrc: ["'self'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
  baseUri: ["'none'"],
  objectSrc: ["'none'"],
};

/** Refuses a state-changing request that a browser says came from another site. */
function refuseCrossSite(request: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (request.method === 'GET' || request.method === 'HEAD') return done();
  const site = request.headers['sec-fetch-site'];
  const origin = request.headers.origin;
  const foreign = (site !== undefined && site !== 'same-origin' && site !== 'none') || (origin !== undefined && origin !== `${request.protocol}://${request.host}`);
  if (foreign) {
    void render(request, reply, 'error', { title: 'Refused', error: 'This form came from another site, so it was refused. Open the page here and send it again.' }, 403);
    return;
  }
  done();
}

async function webScope(web: FastifyInstance, verifier: Verifier): Promise<void> {
  await web.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: CONTENT_SECURITY_POLICY },
    // Not no-referrer: with it Chromium sends `Origin: null` on our own forms, which the origin check refuses.
    referrerPolicy: { policy: 'same-origin' },
    crossOriginEmbedderPolicy: true,
  });
  await web.register(cookie);
  await web.register(formbody, { bodyLimit: 16 * 1024 });
  await web.register(csrf, {
    sessionPlugin: '@fastify/cookie',
    cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true },
    getUserInfo: csrfBinding,
    csrfOpts: { hmacKey: verifier.webSessions.csrfKey() },
  });
  await web.register(view, { engine: { eta: new Eta({ autoEscape: true, autoTrim: false }) }, templates: here('./templates'), production: true });
  await web.register(fastifyStatic, { root: here('./assets'), prefix: '/assets/', decorateReply: false, index: false, cacheControl: true, maxAge: '1h' });

  web.addHook('onRequest', resolveSessions(verifier));
  web.addHook('onRequest', refuseCrossSite);
  web.addHook('preValidation', (request, reply, done) => (request.method === 'POST' ? web.csrfProtection(request, reply, done) : done()));
  web.addHook('onSend', async (request, reply) => {
    if (!request.url.startsWith('/assets/')) void reply.header('cache-control', 'no-store');
  });
  web.setErrorHandler(async (error: FastifyError, request, reply) => {
    if (error.code === 'FST_CSRF_MISSING_SECRET' || error.code === 'FST_CSRF_INVALID_TOKEN') {
      return render(request, reply, 'error', { title: 'Refused', error: 'This form has expired or did not come from this site, so it was refused. Open the page again and send it from there.' }, 403);
    }
    if (error.validation) return render(request, reply, 'error', { title: 'Not understood', error: 'The form was not filled in as expected. Open the page again and send it from there.' }, 400);
    const described = describeError(error);
    if (described) return render(request, reply, 'error', { title: described.status === 403 ? 'Not allowed' : 'Not possible', error: described.message }, described.status);
    request.log.error({ err: { type: error.name, message: error.message } }, 'page failed');
    return render(request, reply, 'error', { title: 'Something went wrong', error: 'Something went wrong on our side. Try again later.' }, 500);
  });

  web.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/account', 303));
  accountRoutes(web, verifier);
  consoleRoutes(web, verifier);
  consoleUserRoutes(web, verifier);
  consoleAuditRoutes(web, verifier);
  // A page that is not there is a page too (the API's unknown routes stay JSON).
  for (const area of ['/account/*', '/console/*']) {
    web.get(area, { schema: { hide: true } }, async (request, reply) => render(request, reply, 'error', { title: 'No such page', error: 'There is no page at this address.' }, 404));
  }
}

/** Registers the pages on the verifier's server, in a scope of their own. */
export async function registerWebPages(app: FastifyInstance, verifier: Verifier): Promise<void> {
  await app.register(async (web) => webScope(web, verifier));
}
