// Checks on what callers of the library pass in (the HTTP layer checks its JSON against schemas
// first; these are for everyone else, the CLI included). Errors name the field, never echo a secret.
import { InvalidInputError } from '../errors.js';
import { normalizeCidr } from '../policy/ip-ranges.js';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './passwords.js';
import { checkSecret } from './secret-text.js';

export const USERNAME_PATTERN = '^[A-Za-z0-9._@+-]{1,64}$';
export const TOKEN_NAME_PATTERN = '^[A-Za-z0-9._-]{1,40}$';

export function checkUsername(username: unknown): string {
  if (typeof username !== 'string' || !new RegExp(USERNAME_PATTERN).test(username)) {
    throw new InvalidInputError('username: 1 to 64 letters, digits or . _ @ + -');
  }
  return username;
}

export function checkEmail(email: unknown): string {
  if (typeof email !== 'string' || email.length > 254 || !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) throw new InvalidInputError('email: not an email address');
  return email;
}

export function checkNewPassword(password: unknown, field = 'password'): string {
  if (typeof password !== 'string' || password.length < PASSWORD_MIN_LENGTH || password.length > PASSWORD_MAX_LENGTH) {
    throw new InvalidInputError(`${field}: ${PASSWORD_MIN_LENGTH} to ${PASSWORD_MAX_LENGTH} characters`);
  }
  checkSecret(password, field);
  return password;
}

export function checkTokenName(name: unknown): string {
  if (typeof name !== 'string' || !new RegExp(TOKEN_NAME_PATTERN).test(name)) throw new InvalidInputError('token name: 1 to 40 letters, digits or . _ -');
  return name;
}

export function checkCidrs(cidrs: unknown): string[] {
  if (!Array.isArray(cidrs) || cidrs.length > 100) throw new InvalidInputError('IP ranges: a list of at most 100 CIDR ranges');
  return [...new Set(cidrs.map((c) => (typeof c === 'string' ? normalizeCidr(c) : normalizeCidr('')))).values()];
}
