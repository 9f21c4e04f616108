// Form bodies and query strings of the pages, as JSON schemas: named text fields only (and the
// CSRF token), bounded, never coerced; an unknown or repeated field is a 400 like in the API.
import type { FastifyRequest } from 'fastify';
import { PASSWORD_MAX_LENGTH } from '../accounts/passwords.js';
import { MAX_TOKEN_LENGTH } from '../accounts/security-token.js';

const text = { type: 'string', maxLength: PASSWORD_MAX_LENGTH + MAX_TOKEN_LENGTH } as const;

/** Field name → its longest value, for the fields longer than a password and token (a security key's answer). */
export type FieldLengths = Readonly<Record<string, number>>;

/** An object of text fields: `required` must be present (they may be empty: the checks behind say why). */
export function fields(required: readonly string[], optional: readonly string[] = [], lengths: FieldLengths = {}) {
  const properties = Object.fromEntries([...required, ...optional, '_csrf'].map((name) => [name, lengths[name] === undefined ? text : { type: 'string', maxLength: lengths[name] }]));
  return { type: 'object', additionalProperties: false, required: [...required], properties } as const;
}

/** A route's schema for a form POST. */
export function formSchema(required: readonly string[], optional: readonly string[] = [], lengths: FieldLengths = {}) {
  return { schema: { hide: true, body: fields(required, optional, lengths) } };
}

/** Reads an optional text field: undefined when absent or empty. */
export function optionalText(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** A query-string parameter as text: undefined when absent, repeated, or longer than 200 characters. */
export function queryText(request: FastifyRequest, name: string): string | undefined {
  const value = (request.query as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' && value.length <= 200 ? value : undefined;
}
