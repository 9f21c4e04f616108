// `tokengate/verifier`: the companion verifier — accounts with password + security token, trusted
// and login IP ranges, enrolled hardware tokens and their challenge-response, the blocklist, the
// audit log — as a library and as an HTTP server. It loads no PKCS#11 or HID addon: signatures are
// checked with node:crypto (src/algorithms/), security keys' WebAuthn answers with @simplewebauthn/server.
export { Verifier, DEFAULT_IP_LIMIT } from './verifier.js';
export type { VerifierOptions, VerifierWarning } from './verifier.js';
export { ServerSecret } from './server-secret.js';
export {
  VerifierError,
  InvalidCredentialsError,
  PasswordRequiredError,
  RateLimitedError,
  InvalidInputError,
  UserExistsError,
  UserNotFoundError,
  NoSecurityTokenError,
  SecurityTokenNotFoundError,
  UnauthorizedError,
  ForbiddenError,
  CredentialRefusedError,
  CredentialExistsError,
  CredentialNotFoundError,
  CredentialStateError,
  RelyingPartyMismatchError,
} from './errors.js';
export type { VerifierErrorCode, VerifierLibraryError } from './errors.js';
export type { LoginRequest, LoginResult, PasswordCheck } from './accounts/authenticator.js';
export type { UserView, NewUserInput, UserAction } from './accounts/admin.js';
export type { ApiKeyInfo, ApiKeyScope } from './access/api-keys.js';
export type { AuditRecord, AuditQuery, LoginCounts } from './store/audit.js';
export type { WebIdentity, WebSession } from './access/web-sessions.js';
export type { MailTransportConfig } from './mail/transport.js';
export type { LockoutPolicy } from './policy/lockout.js';
export type { Argon2Cost } from './accounts/passwords.js';
export { challengeMessage, CHALLENGE_MESSAGE_VERSION } from './protocol.js';
export type { ChallengePurpose, ChallengeMessageFields } from './protocol.js';
export type {
  EnrolledCredential,
  CredentialView,
  CredentialStatus,
  CredentialKind,
  EnrollInput,
  LifecycleAction,
  Blocklist as VerifierBlocklist,
  FidoRegistrationOptions,
  FidoRegistrationInput,
} from './tokens/registry.js';
export type { CredentialSelector, IssuedChallenge, ChallengeLoginResult, FidoChallengeRequest, IssuedFidoChallenge, FidoChallengeResponse, FidoLoginResult } from './tokens/challenges.js';
export { DEFAULT_RP_ID } from './credentials/webauthn.js';
export type { RelyingPartyOptions } from './credentials/webauthn.js';
export type { ChallengePolicy } from './tokens/policy.js';
export type { CertificatePolicy, CertificateRefusal } from './credentials/certificate-policy.js';
export { buildVerifierServer } from './http/server.js';
export type { VerifierServerOptions } from './http/server.js';
// The checks a verifier makes, for callers who verify signatures themselves.
export { verifySignature, verifySignatureAsync, SIGNATURE_ALGORITHMS } from '../algorithms/signature.js';
export type { SignatureAlgorithm, SignatureFormat, VerifyOptions, VerificationKey } from '../algorithms/signature.js';
