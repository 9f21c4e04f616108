// API-key access for the admin, helpdesk and audit routes: `Authorization: Bearer tgk_…`, checked
// against the key's scopes before the handler runs; the key's id becomes the audit actor.
import type { FastifyRequest } from 'fastify';
import type { ApiKeyScope } from '../access/api-keys.js';
import type { Verifier } from '../verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The audit actor of an API-key request: `api-key:<id>`. */
    actor?: string;
  }
}

/** A preHandler that lets through keys holding any of `scopes`. */
export function requireScope(verifier: Verifier, ...scopes: ApiKeyScope[]) {
  return async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    const key = header?.startsWith('Bearer ') ? header.slice('Bearer '.length).trim() : undefined;
    let lastError: unknown;
    for (const scope of scopes) {
      try {
        const info = await verifier.apiKeys.authenticate(key, scope);
        request.actor = `api-key:${info.id}`;
        return;
      } catch (err) {
        lastError = err;
        // An unknown key fails for every scope alike; only a missing scope is worth another look.
        if ((err as { code?: string }).code !== 'ERR_FORBIDDEN') break;
      }
    }
    throw lastError;
  };
}

export function actorOf(request: FastifyRequest): string {
  return request.actor ?? 'anonymous';
}
