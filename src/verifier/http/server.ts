// The verifier's HTTP server: Fastify, a JSON schema on every route, the OpenAPI document at
// /openapi.json, and the web pages (web/pages.ts) in a scope of their own. The client address is the socket's; X-Forwarded-For counts only when the
// socket's peer is one of the configured trusted proxies. What one client can hold is bounded:
// a request's time (headers and body), and connections per address and in all.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Verifier } from '../verifier.js';
import { registerStrictJson } from './body.js';
import { limitConnectionsPerAddress } from './connections.js';
import { replyWithError } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { policyRoutes } from './routes/policy.js';
import { publicRoutes } from './routes/public.js';
import { tokenRoutes } from './routes/tokens.js';
import { InvalidInputError } from '../errors.js';

export interface VerifierServerOptions {
  /** Proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed. None by default. */
  readonly trustedProxies?: readonly string[];
  /** Largest accepted body, bytes (default 16 KiB: nothing here needs more). */
  readonly bodyLimit?: number;
  /** Fastify's logger (pino) options, or false (default). Request bodies are never logged. */
  readonly logger?: boolean;
  /** How long a request's headers and body may take to arrive, ms (default 10 s); then 408 and close. */
  readonly requestTimeoutMs?: number;
  /** Open connections one client address may hold (default 64); trusted proxies are exempt. */
  readonly connectionsPerAddress?: number;
  /** Open connections in all (default 1024); beyond it new ones are closed at once. */
  readonly maxConnections?: number;
  /** The web pages (/account, /console; web/pages.ts); on unless false. */
  readonly pages?: boolean;
}

export const DEFAULT_SERVER_LIMITS = { requestTimeoutMs: 10_000, connectionsPerAddress: 64, maxConnections: 1024 } as const;

/** The limits given, leaving out the ones left undefined (they take the defaults). */
function definedLimits(options: VerifierServerOptions): Partial<Record<keyof typeof DEFAULT_SERVER_LIMITS, number>> {
  const { requestTimeoutMs, connectionsPerAddress, maxConnections } = options;
  return Object.fromEntries(Object.entries({ requestTimeoutMs, connectionsPerAddress, maxConnections }).filter(([, v]) => v !== undefined));
}

export async function buildVerifierServer(verifier: Verifier, options: VerifierServerOptions = {}): Promise<FastifyInstance> {
  const limits = { ...DEFAULT_SERVER_LIMITS, ...definedLimits(options) };
  for (const [name, value] of Object.entries(limits)) if (!Number.isInteger(value) || value < 1) throw new InvalidInputError(`${name} must be a positive integer`);
  const requestTimeout = limits.requestTimeoutMs;
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 16 * 1024,
    trustProxy: options.trustedProxies && options.trustedProxies.length > 0 ? [...options.trustedProxies] : false,
    // Fastify's default (0) never times out a request whose body stalls. Node checks the deadline
    // every connectionsCheckingInterval (default 30 s): a tenth of the bound, at most a second.
    requestTimeout,
    http: { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.min(1000, Math.max(10, Math.floor(requestTimeout / 10))) },
    // Unknown fields are errors, not silently dropped; types are never coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  app.server.maxConnections = limits.maxConnections;
  limitConnectionsPerAddress(app.server, limits.connectionsPerAddress, options.trustedProxies ?? []);
  registerStrictJson(app);
  app.setErrorHandler((error, request, reply) => replyWithError(error as Error, request, reply));
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: { code: 'ERR_NOT_FOUND', message: 'no such route' } }));
  await app.register(swagger, {
    openapi: {
      info: { title: 'tokengate verifier', version: '1' },
      components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'tgk_… API key' } } },
    },
  });
  publicRoutes(app, verifier);
  adminRoutes(app, verifier);
  tokenRoutes(app, verifier);
  policyRoutes(app, verifier);
  // Loaded only for a server that has them: the CLI's other commands never load a template engine.
  if (options.pages !== false) await (await import('../web/pages.js')).registerWebPages(app, verifier);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
