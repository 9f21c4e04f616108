// How a page and its forms are declared: a GET that renders a template with what its loader
// reads, and POSTs that act and redirect (Post/Redirect/Get) — or, when the action is refused,
// render the same page again with the reason, announced. Guards run first: a page of either area
// without a live session sends the browser to that area's sign-in. And the session's three
// moments every area shares: started at sign-in, ended at sign-out, gone after a reset.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { WebIdentity, WebSession } from '../access/web-sessions.js';
import type { Verifier } from '../verifier.js';
import { RateLimitedError, UnauthorizedError } from '../errors.js';
import { formSchema, type FieldLengths } from './forms.js';
import { describeError, redirectWith, render, renderError, type Notice, type PageData } from './render.js';
import { demand, type ConsolePermission } from './roles.js';
import { clearSessionCookie, sessionCookie, setSessionCookie, type Area } from './session-cookies.js';

export type Guard = 'anyone' | 'user' | ConsolePermission | 'console';

export type Loader = (request: FastifyRequest) => Promise<PageData>;

export interface Page {
  readonly template: string;
  readonly load: Loader;
  readonly guard: Guard;
}

/** The signed-in identity the guard asked for (the guard ran, so it is there). */
export function identityOf<K extends WebIdentity['kind']>(request: FastifyRequest, kind: K): Extract<WebIdentity, { kind: K }> {
  const identity = request.web?.session?.identity;
  if (identity?.kind !== kind) throw new UnauthorizedError('not signed in');
  return identity as Extract<WebIdentity, { kind: K }>;
}

function guardHandler(guard: Guard) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> => {
    if (guard === 'anyone') return undefined;
    const identity = request.web?.session?.identity;
    const kind = guard === 'user' ? 'user' : 'console';
    if (identity?.kind !== kind) return reply.redirect(kind === 'user' ? '/account/sign-in' : '/console/sign-in', 303);
    if (guard !== 'user' && guard !== 'console') demand(identity, guard);
    return undefined;
  };
}

export function page(web: FastifyInstance, path: string, definition: Page): Page {
  web.get(path, { schema: { hide: true }, preHandler: guardHandler(definition.guard) }, async (request, reply) => render(request, reply, definition.template, await definition.load(request)));
  return definition;
}

export interface Action {
  readonly required: readonly string[];
  readonly optional?: readonly string[];
  readonly guard: Guard;
  /** Path parameters (names; each at most 64 characters). */
  readonly params?: readonly string[];
  /** Fields that may be longer than a password and token. */
  readonly lengths?: FieldLengths;
  /** The page shown again, with the reason, when the action is refused. */
  readonly page: Page;
  readonly handle: (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply>;
}

function postOptions(definition: Pick<Action, 'required' | 'optional' | 'params' | 'lengths' | 'guard'>) {
  const { schema } = formSchema(definition.required, definition.optional, definition.lengths);
  const params = definition.params && {
    type: 'object',
    required: [...definition.params],
    properties: Object.fromEntries(definition.params.map((name) => [name, { type: 'string', maxLength: 64 }])),
  };
  return { schema: { ...schema, ...(params ? { params } : {}) }, preHandler: guardHandler(definition.guard) };
}

export function action(web: FastifyInstance, path: string, definition: Action): void {
  web.post(path, postOptions(definition), async (request, reply) => {
    try {
      return await definition.handle(request, reply);
    } catch (err) {
      return renderError(request, reply, err, definition.page.template, await definition.page.load(request));
    }
  });
}

export interface ScriptStep extends Pick<Action, 'required' | 'optional' | 'guard'> {
  readonly handle: (request: FastifyRequest) => Promise<object>;
}

/**
 * A step a page's script takes before its form is sent (a security key's WebAuthn options): a
 * form POST, CSRF-checked and guarded like the others, answered with JSON — a refusal as
 * `{ error }` with the sentence a page would show, and the same status.
 */
export function scriptStep(web: FastifyInstance, path: string, definition: ScriptStep): void {
  web.post(path, postOptions(definition), async (request, reply) => {
    try {
      return reply.type('application/json; charset=utf-8').send(await definition.handle(request));
    } catch (err) {
      const described = describeError(err);
      if (!described) throw err;
      if (err instanceof RateLimitedError) void reply.header('retry-after', String(err.retryAfterSeconds));
      return reply.code(described.status).type('application/json; charset=utf-8').send({ error: described.message });
    }
  });
}

/** The audit actor of a console request: its API key, as over the API. */
export function consoleActor(request: FastifyRequest): string {
  return `api-key:${identityOf(request, 'console').apiKeyId}`;
}

/** A path parameter the action declared. */
export function param(request: FastifyRequest, name: string): string {
  return (request.params as Record<string, string>)[name] ?? '';
}

/** The form's fields (the schema made them text). */
export function form(request: FastifyRequest): Record<string, string | undefined> {
  return (request.body ?? {}) as Record<string, string | undefined>;
}

/** A signed-in user's page: the loader gets their username. */
export function userPage(web: FastifyInstance, path: string, template: string, title: string, load: (username: string) => Promise<Record<string, unknown>>): Page {
  return page(web, path, { template, guard: 'user', load: async (request) => ({ title, ...(await load(identityOf(request, 'user').username)) }) });
}

/** Starts the area's session (the browser's old one ends) and goes to the area's start. */
export async function startSession(request: FastifyRequest, reply: FastifyReply, area: Area, start: (previous: string | undefined) => Promise<WebSession>): Promise<FastifyReply> {
  setSessionCookie(request, reply, area, await start(sessionCookie(request, area)));
  return reply.redirect(`/${area}`, 303);
}

/** After a change that ended the user's sessions (a reset): the cookie goes, and the sign-in page says what happened. */
export function signedOut(request: FastifyRequest, reply: FastifyReply, notice: Notice): FastifyReply {
  clearSessionCookie(request, reply, 'account');
  return redirectWith(reply, '/account/sign-in', notice);
}

/** POST /<area>/sign-out: the session ends in the store, the cookie in the browser. */
export function signOutRoute(web: FastifyInstance, verifier: Verifier, area: Area): void {
  web.post(`/${area}/sign-out`, { schema: { hide: true } }, async (request, reply) => {
    await verifier.webSessions.end(sessionCookie(request, area));
    clearSessionCookie(request, reply, area);
    return redirectWith(reply, `/${area}/sign-in`, 'signed-out');
  });
}
