// Security tokens: random, case-sensitive alphanumeric codes of a fixed length per deployment.
// Only an HMAC of a token is stored, keyed with the server secret (outside the database), so a
// leaked database neither shows tokens nor lets anyone test guesses offline.
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';
import type { ServerSecret } from '../server-secret.js';
import { InvalidInputError } from '../errors.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export const DEFAULT_TOKEN_LENGTH = 24;
export const MIN_TOKEN_LENGTH = 16;
export const MAX_TOKEN_LENGTH = 64;

export function generateSecurityToken(length = DEFAULT_TOKEN_LENGTH): string {
  if (!Number.isInteger(length) || length < MIN_TOKEN_LENGTH || length > MAX_TOKEN_LENGTH) {
    throw new InvalidInputError(`security token length must be ${MIN_TOKEN_LENGTH}..${MAX_TOKEN_LENGTH}`);
  }
  let token = '';
  for (let i = 0; i < length; i++) token += ALPHABET[randomInt(ALPHABET.length)];
  return token;
}

export function hashSecurityToken(secret: ServerSecret, token: string): Buffer {
  return createHmac('sha256', secret.key('security-token-hash')).update(token, 'utf8').digest();
}

/**
 * The name of the stored token `candidate` matches, or undefined. Every stored hash is compared,
 * in constant time, whether or not an earlier one matched.
 */
export function matchSecurityToken(
  secret: ServerSecret,
  candidate: string,
  stored: ReadonlyArray<{ name: string; hash: Uint8Array }>,
): string | undefined {
  const digest = hashSecurityToken(secret, candidate);
  let match: string | undefined;
  for (const { name, hash } of stored) {
    if (hash.length === digest.length && timingSafeEqual(hash, digest) && match === undefined) match = name;
  }
  return match;
}
