// Every failure as `{ error: { code, message } }` with a 4xx status: our typed errors, schema
// validation, malformed or oversized bodies; a store that cannot be reached is a 503 with
// Retry-After (ERR_STORE_UNAVAILABLE), never a 500. A 500 says only "internal error" and is logged
// without the request body (which may hold a password).
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { RateLimitedError, StoreUnavailableError, VerifierError, type VerifierErrorCode } from '../errors.js';

/**
 * The status each of the verifier's errors answers with. Only the HTTP layer knows about HTTP:
 * the library's errors carry a code, and the same code means the same thing to every caller.
 * (A client-side error reaching a route would be a bug: it answers 500.)
 */
const HTTP_STATUS: Record<VerifierErrorCode, number> = {
  ERR_INVALID_CREDENTIALS: 401,
  ERR_PASSWORD_REQUIRED: 401,
  ERR_RATE_LIMITED: 429,
  ERR_STORE_UNAVAILABLE: 503,
  ERR_INVALID_INPUT: 400,
  ERR_USER_EXISTS: 409,
  ERR_USER_NOT_FOUND: 404,
  ERR_NO_SECURITY_TOKEN: 409,
  ERR_SECURITY_TOKEN_NOT_FOUND: 404,
  ERR_UNAUTHORIZED: 401,
  ERR_FORBIDDEN: 403,
  ERR_CREDENTIAL_REFUSED: 422,
  ERR_CREDENTIAL_EXISTS: 409,
  ERR_CREDENTIAL_NOT_FOUND: 404,
  ERR_CREDENTIAL_STATE: 409,
  ERR_VERIFIER_REFUSED: 500,
  ERR_VERIFIER_UNREACHABLE: 500,
  ERR_INVALID_VERIFIER_URL: 500,
  ERR_RELYING_PARTY_MISMATCH: 500,
  ERR_CHALLENGE_MESSAGE: 400,
};

/** The HTTP status a verifier error answers with. */
export function httpStatusOf(code: VerifierErrorCode): number {
  return HTTP_STATUS[code];
}

interface Mapped {
  status: number;
  code: string;
  message: string;
}

const FASTIFY_CODES: Record<string, Omit<Mapped, 'message'>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'ERR_BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'ERR_UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'ERR_BAD_JSON' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'ERR_BAD_JSON' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'ERR_BAD_REQUEST' },
};

function map(error: FastifyError | Error): Mapped {
  if (error instanceof VerifierError) {
    const status = httpStatusOf(error.code);
    return status >= 500 && status !== 503 ? { status, code: 'ERR_INTERNAL', message: 'internal error' } : { status, code: error.code, message: error.message };
  }
  const fastify = error as FastifyError;
  if (fastify.validation) return { status: 400, code: 'ERR_INVALID_INPUT', message: `${fastify.validationContext ?? 'request'}${fastify.validation[0]?.instancePath ?? ''} ${fastify.validation[0]?.message ?? 'is invalid'}` };
  const known = fastify.code ? FASTIFY_CODES[fastify.code] : undefined;
  if (known) return { ...known, message: fastify.message };
  if (fastify.code === 'ERR_BAD_JSON' || fastify.code === 'ERR_NOT_UTF8') return { status: 400, code: fastify.code, message: fastify.message };
  if (typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 500) return { status: fastify.statusCode, code: 'ERR_BAD_REQUEST', message: fastify.message };
  return { status: 500, code: 'ERR_INTERNAL', message: 'internal error' };
}

export function replyWithError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const mapped = map(error);
  if (mapped.status >= 500) request.log.error({ err: { type: error.name, message: error.message } }, 'request failed');
  if (error instanceof RateLimitedError || error instanceof StoreUnavailableError) void reply.header('retry-after', String(error.retryAfterSeconds));
  return reply.code(mapped.status).send({ error: { code: mapped.code, message: mapped.message } });
}
