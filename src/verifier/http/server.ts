// The verifier's HTTP server: Fastify, a JSON schema on every route, the OpenAPI document at
// /openapi.json. The client address is the socket's; X-Forwarded-For counts only when the
// socket's peer is one of the configured trusted proxies.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Verifier } from '../verifier.js';
import { registerStrictJson } from './body.js';
import { replyWithError } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { publicRoutes } from './routes/public.js';
import { tokenRoutes } from './routes/tokens.js';

export interface VerifierServerOptions {
  /** Proxies (addresses or CIDR ranges) whose X-Forwarded-For is believed. None by default. */
  readonly trustedProxies?: readonly string[];
  /** Largest accepted body, bytes (default 16 KiB: nothing here needs more). */
  readonly bodyLimit?: number;
  /** Fastify's logger (pino) options, or false (default). Request bodies are never logged. */
  readonly logger?: boolean;
}

export async function buildVerifierServer(verifier: Verifier, options: VerifierServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 16 * 1024,
    trustProxy: options.trustedProxies && options.trustedProxies.length > 0 ? [...options.trustedProxies] : false,
    // Unknown fields are errors, not silently dropped; types are never coerced.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
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
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  return app;
}
