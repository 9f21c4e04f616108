// `tokengate/client`: what a kiosk or a desk application needs to talk to a verifier — the HTTP
// client, signing in with a token (challenge → the token signs → response) or a USB security key
// (WebAuthn), enrolling either (`signInWithToken` and `enrollToken` take either as a
// `HardwareToken`), and the blocklist fetcher a kiosk polls. It uses the token library
// (`tokengate`) and loads none of the verifier server's dependencies.
export { VerifierClient, signInWithToken, enrollToken } from './verifier-client.js';
export type {
  VerifierClientOptions,
  ChallengeFromVerifier,
  SignInOptions,
  EnrollTokenOptions,
  SignedIn,
  SignInWithHardwareTokenOptions,
  EnrollHardwareTokenOptions,
  HardwareTokenEnrollment,
} from './verifier-client.js';
export { enrollSecurityKey, signInWithSecurityKey, createCredential, getAssertion } from './security-key.js';
export type { EnrollSecurityKeyOptions, SignInWithSecurityKeyOptions } from './security-key.js';
export { VerifierError, VerifierRefusedError, VerifierUnreachableError, InvalidVerifierUrlError, RelyingPartyMismatchError } from '../verifier/errors.js';
export type { VerifierErrorCode, VerifierLibraryError } from '../verifier/errors.js';
export { challengeMessage, CHALLENGE_MESSAGE_VERSION } from '../verifier/protocol.js';
export type { ChallengePurpose, ChallengeMessageFields } from '../verifier/protocol.js';
export type { EnrolledCredential, CredentialView, CredentialStatus, CredentialKind, FidoRegistrationOptions } from '../verifier/tokens/registry.js';
export type { CredentialSelector, IssuedFidoChallenge } from '../verifier/tokens/challenges.js';
