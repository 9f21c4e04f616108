// JSON schemas for the hardware-token routes (see schemas.ts for the conventions).
import { SIGNATURE_ALGORITHMS } from '../../algorithms/signature.js';
import { USERNAME_PATTERN } from '../accounts/validate.js';
import { CHALLENGE_PURPOSES } from '../protocol.js';
import { CHALLENGE_POLICIES } from '../tokens/policy.js';

const username = { type: 'string', pattern: USERNAME_PATTERN } as const;
const base64 = { type: 'string', pattern: '^[A-Za-z0-9+/_-]*={0,2}$' } as const;
const purpose = { type: 'string', enum: [...CHALLENGE_PURPOSES] } as const;
const base64url = { type: 'string', pattern: '^[A-Za-z0-9_-]*$' } as const;
const credentialId = { ...base64url, minLength: 16, maxLength: 1366, description: 'a WebAuthn credential id, base64url' } as const;
const password = { type: 'string', minLength: 1, maxLength: 256 } as const;

export const challengeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['credential', 'purpose'],
  properties: {
    username,
    purpose,
    credential: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      properties: { id: { type: 'string', maxLength: 64 }, serial: { type: 'string', maxLength: 64 }, fingerprint: { type: 'string', pattern: '^[0-9a-f]{64}$' } },
    },
  },
} as const;

export const challengeReply = {
  type: 'object',
  properties: {
    challengeId: { type: 'string' },
    fields: {
      type: 'object',
      properties: { verifierId: { type: 'string' }, purpose: { type: 'string' }, username: { type: 'string' }, credentialId: { type: 'string' }, challenge: { type: 'string' } },
    },
    message: { type: 'string', description: 'the exact bytes to sign, base64' },
    expiresAt: { type: 'string', format: 'date-time' },
    passwordRequired: { type: 'boolean' },
  },
} as const;

export const responseBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'purpose', 'signature', 'algorithm'],
  properties: {
    username,
    purpose,
    signature: { ...base64, maxLength: 2048 },
    algorithm: { type: 'string', enum: [...SIGNATURE_ALGORITHMS] },
    format: { type: 'string', enum: ['raw', 'der'] },
    password: { type: 'string', minLength: 1, maxLength: 256 },
  },
} as const;

export const responseReply = {
  type: 'object',
  properties: { result: { type: 'string' }, userId: { type: 'string' }, username: { type: 'string' }, credentialId: { type: 'string' } },
} as const;

export const temporaryLoginBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password', 'temporaryPassword'],
  properties: { username, password: { type: 'string', minLength: 1, maxLength: 256 }, temporaryPassword: { type: 'string', minLength: 1, maxLength: 64 } },
} as const;

export const blocklistReply = {
  type: 'object',
  properties: {
    version: { type: 'integer' },
    serials: { type: 'array', items: { type: 'string' } },
    certificateFingerprints: { type: 'array', items: { type: 'string' } },
    fidoCredentialIds: { type: 'array', items: { type: 'string' }, description: 'WebAuthn credential ids of lost security keys, base64url' },
  },
} as const;

const enrollProperties = {
  certificate: { type: 'string', minLength: 1, maxLength: 16_384, description: 'PEM' },
  publicKey: { ...base64, minLength: 1, maxLength: 4096, description: 'DER SubjectPublicKeyInfo, base64' },
  serial: { type: 'string', minLength: 1, maxLength: 64 },
  label: { type: 'string', minLength: 1, maxLength: 100 },
} as const;

export const enrollBody = { type: 'object', additionalProperties: false, properties: enrollProperties } as const;

export const selfEnrollBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password'],
  properties: { username, password: { type: 'string', minLength: 1, maxLength: 256 }, ...enrollProperties },
} as const;

export const credentialView = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    label: { type: 'string' },
    serial: { type: 'string' },
    fingerprint: { type: 'string' },
    keyType: { type: 'string' },
    algorithms: { type: 'array', items: { type: 'string' } },
    notAfter: { type: 'string', format: 'date-time' },
    status: { type: 'string' },
    statusReason: { type: 'string' },
    locked: { type: 'boolean' },
    createdAt: { type: 'string', format: 'date-time' },
    kind: { type: 'string', enum: ['card', 'fido'] },
    fidoCredentialId: { type: 'string' },
    aaguid: { type: 'string' },
    rpId: { type: 'string' },
    transports: { type: 'array', items: { type: 'string' } },
    signCount: { type: 'integer' },
    flagReason: { type: 'string', description: 'why the helpdesk should look (counter_not_increased: a possible cloned key); refused until unlocked' },
    flaggedAt: { type: 'string', format: 'date-time' },
  },
} as const;

const policy = { type: 'string', enum: [...CHALLENGE_POLICIES] } as const;

/** The enroll routes' reply: the credential and the user's own challenge policy (registry.ts's EnrolledCredential). */
export const enrolledCredentialView = {
  type: 'object',
  properties: {
    ...credentialView.properties,
    challengePolicy: { ...policy, description: "the user's own challenge policy now; password+token: a client that sends no password is refused (ERR_PASSWORD_REQUIRED) unless a client range's policy says token-only" },
  },
  required: ['id', 'username', 'status', 'challengePolicy'],
} as const;

export const credentialActionParams = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'action'],
  properties: { id: { type: 'string', maxLength: 64 }, action: { type: 'string', enum: ['disable', 'enable', 'block', 'revoke', 'unlock'] } },
} as const;

export const reasonBody = { type: ['object', 'null'], additionalProperties: false, properties: { reason: { type: 'string', maxLength: 200 } } } as const;

export const temporaryPasswordBody = {
  type: 'object',
  additionalProperties: false,
  required: ['deliver'],
  properties: { deliver: { type: 'string', enum: ['mail', 'show'] }, validDays: { type: 'integer', minimum: 1, maximum: 30 } },
} as const;

export const policyBody = { type: 'object', additionalProperties: false, required: ['policy'], properties: { policy } } as const;

const cidr = { type: 'string', minLength: 3, maxLength: 64 } as const;

export const rangePolicyBody = { type: 'object', additionalProperties: false, required: ['cidr', 'policy'], properties: { cidr, policy } } as const;

export const rangePolicyQuery = { type: 'object', additionalProperties: false, required: ['cidr'], properties: { cidr } } as const;

export const rangePolicy = { type: 'object', properties: { cidr: { type: 'string' }, policy }, required: ['cidr', 'policy'] } as const;

// ---- security keys (WebAuthn) ----

export const fidoChallengeBody = {
  type: 'object',
  additionalProperties: false,
  required: ['purpose'],
  properties: { username, purpose, credentialIds: { type: 'array', maxItems: 32, items: credentialId } },
} as const;

export const fidoChallengeReply = {
  type: 'object',
  properties: {
    challengeId: { type: 'string' },
    challenge: { type: 'string', description: 'base64url: goes into clientDataJSON' },
    rpId: { type: 'string' },
    origin: { type: 'string' },
    allowCredentialIds: { type: 'array', items: { type: 'string' } },
    userVerification: { type: 'string', enum: ['required', 'preferred'] },
    passwordRequired: { type: 'boolean' },
    expiresAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const fidoResponseBody = {
  type: 'object',
  additionalProperties: false,
  required: ['purpose', 'credentialId', 'authenticatorData', 'clientDataJSON', 'signature'],
  properties: {
    username,
    purpose,
    credentialId,
    authenticatorData: { ...base64url, minLength: 50, maxLength: 4096 },
    clientDataJSON: { ...base64url, minLength: 1, maxLength: 4096 },
    signature: { ...base64url, minLength: 1, maxLength: 2048 },
    password,
  },
} as const;

export const fidoResponseReply = {
  type: 'object',
  properties: { ...responseReply.properties, signCount: { type: 'integer' }, userVerified: { type: 'boolean' } },
} as const;

export const fidoRegistrationReply = {
  type: 'object',
  properties: {
    challengeId: { type: 'string' },
    challenge: { type: 'string' },
    rp: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } },
    user: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' }, displayName: { type: 'string' } } },
    origin: { type: 'string' },
    algorithms: { type: 'array', items: { type: 'integer' } },
    excludeCredentialIds: { type: 'array', items: { type: 'string' } },
    userVerification: { type: 'string', enum: ['required', 'preferred'] },
    expiresAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const fidoRegistrationOptionsBody = { type: ['object', 'null'], additionalProperties: false, properties: {} } as const;

export const selfFidoRegistrationOptionsBody = { type: 'object', additionalProperties: false, required: ['username', 'password'], properties: { username, password } } as const;

const fidoRegisterProperties = {
  challengeId: { type: 'string', maxLength: 64 },
  attestationObject: { ...base64url, minLength: 1, maxLength: 16_384 },
  clientDataJSON: { ...base64url, minLength: 1, maxLength: 4096 },
  label: { type: 'string', minLength: 1, maxLength: 100 },
  transports: { type: 'array', maxItems: 8, items: { type: 'string', maxLength: 16 } },
} as const;

export const fidoRegisterBody = { type: 'object', additionalProperties: false, required: ['challengeId', 'attestationObject', 'clientDataJSON'], properties: fidoRegisterProperties } as const;

export const selfFidoRegisterBody = {
  type: 'object',
  additionalProperties: false,
  required: ['username', 'password', 'challengeId', 'attestationObject', 'clientDataJSON'],
  properties: { username, password, ...fidoRegisterProperties },
} as const;
