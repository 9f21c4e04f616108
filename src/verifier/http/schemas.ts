// JSON schemas for the HTTP API: every body, parameter and reply. Unknown fields are refused
// (additionalProperties: false with removeAdditional off), and replies are serialised through
// their schema, so nothing unlisted — a hash, a token — can ever leave by accident.
import { PASSWORD_MAX_LENGTH } from '../accounts/passwords.js';
import { TOKEN_NAME_PATTERN, USERNAME_PATTERN } from '../accounts/validate.js';
import { MAX_TOKEN_LENGTH } from '../accounts/security-token.js';

const username = { type: 'string', pattern: USERNAME_PATTERN } as const;
// Login passwords are not held to the creation rules (old ones may be shorter), only bounded.
const password = { type: 'string', minLength: 1, maxLength: PASSWORD_MAX_LENGTH + MAX_TOKEN_LENGTH } as const;
const newPassword = { type: 'string', minLength: 1, maxLength: PASSWORD_MAX_LENGTH } as const;
const tokenName = { type: 'string', pattern: TOKEN_NAME_PATTERN } as const;
const cidr = { type: 'string', minLength: 3, maxLength: 64 } as const;

export const errorReply = {
  type: 'object',
  properties: { error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } }, required: ['code', 'message'] } },
  required: ['error'],
} as const;

export const loginBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: { username, password, securityToken: { type: 'string', maxLength: MAX_TOKEN_LENGTH } },
} as const;

export const loginReply = {
  type: 'object',
  properties: {
    result: { type: 'string', enum: ['ok'] },
    userId: { type: 'string' },
    username: { type: 'string' },
    via: { type: 'object', properties: { kind: { type: 'string' }, name: { type: 'string' } }, required: ['kind'] },
  },
  required: ['result', 'userId', 'username', 'via'],
} as const;

export const tokenResetBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: { username, password, name: tokenName },
} as const;

export const passwordChangeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password', 'newPassword'],
  properties: { username, password, newPassword },
} as const;

export const acceptedReply = { type: 'object', properties: { result: { type: 'string' } }, required: ['result'] } as const;

export const userView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    email: { type: 'string' },
    active: { type: 'boolean' },
    frozen: { type: 'boolean' },
    locked: { type: 'boolean' },
    lockedUntil: { type: 'string', format: 'date-time' },
    failedLogins: { type: 'integer' },
    loginIpRanges: { type: 'array', items: { type: 'string' } },
    challengePolicy: { type: 'string', enum: ['token-only', 'password+token'], description: "the user's own; a client range's policy overrides it inside the range" },
    securityTokens: {
      type: 'array',
      items: { type: 'object', properties: { name: { type: 'string' }, createdAt: { type: 'string', format: 'date-time' } }, required: ['name', 'createdAt'] },
    },
    createdAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'username', 'email', 'active', 'frozen', 'locked', 'failedLogins', 'loginIpRanges', 'challengePolicy', 'securityTokens', 'createdAt'],
} as const;

export const newUserBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'email', 'password'],
  properties: { username, email: { type: 'string', format: 'email', maxLength: 254 }, password: newPassword, loginIpRanges: { type: 'array', maxItems: 100, items: cidr } },
} as const;

export const usernameParams = { type: 'object', additionalProperties: false, required: ['username'], properties: { username } } as const;

export const userActionParams = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'action'],
  properties: { username, action: { type: 'string', enum: ['deactivate', 'reactivate', 'freeze', 'unfreeze', 'unlock'] } },
} as const;

export const tokenParams = { type: 'object', additionalProperties: false, required: ['username', 'name'], properties: { username, name: tokenName } } as const;

export const rangesBody = { type: 'object', additionalProperties: false, required: ['ranges'], properties: { ranges: { type: 'array', maxItems: 100, items: cidr } } } as const;

export const adminPasswordBody = { type: 'object', additionalProperties: false, required: ['newPassword'], properties: { newPassword } } as const;

export const tokenNameBody = { type: 'object', additionalProperties: false, required: ['name'], properties: { name: tokenName } } as const;

export const trustedRangeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['cidr'],
  properties: { cidr, description: { type: 'string', maxLength: 200 } },
} as const;

export const trustedRangeQuery = { type: 'object', additionalProperties: false, required: ['cidr'], properties: { cidr } } as const;

export const trustedRangesReply = {
  type: 'array',
  items: { type: 'object', properties: { cidr: { type: 'string' }, description: { type: 'string' } }, required: ['cidr', 'description'] },
} as const;

export const auditQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    subject: { type: 'string', maxLength: 200 },
    action: { type: 'string', maxLength: 100 },
    // Query strings are text, and types are never coerced (a wrong type is a 400 everywhere).
    after: { type: 'string', pattern: '^[0-9]{1,15}$' },
    limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
  },
} as const;

/** The user listing's page: a username or email prefix, keyset cursors, at most 1,000 a page. */
export const userListQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    search: { type: 'string', maxLength: 320 },
    after: { type: 'string', minLength: 1, maxLength: 200 },
    before: { type: 'string', minLength: 1, maxLength: 200 },
    limit: { type: 'string', pattern: '^(?:[1-9][0-9]{0,2}|1000)$' },
  },
  not: { required: ['after', 'before'] },
} as const;

export const auditReply = {
  type: 'array',
  items: {
    type: 'object',
    properties: {
      id: { type: 'integer' },
      at: { type: 'string', format: 'date-time' },
      actor: { type: 'string' },
      action: { type: 'string' },
      subject: { type: 'string' },
      clientIp: { type: 'string' },
      result: { type: 'string' },
      reason: { type: 'string' },
      detail: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    },
    required: ['id', 'at', 'actor', 'action', 'result', 'reason'],
  },
} as const;

export const healthReply = {
  type: 'object',
  properties: { status: { type: 'string' }, pendingMail: { type: 'integer' } },
  required: ['status'],
} as const;

export const relyingPartyReply = {
  type: 'object',
  required: ['rpId', 'rpName', 'origins', 'requireUserVerification'],
  properties: { rpId: { type: 'string' }, rpName: { type: 'string' }, origins: { type: 'array', items: { type: 'string' } }, requireUserVerification: { type: 'boolean' } },
} as const;
