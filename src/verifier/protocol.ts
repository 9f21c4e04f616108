// The message a token signs to answer a verifier's challenge — defined once, used by the verifier
// and by the token side (the kiosk, the CLI), so the two can never drift apart.
//
// It is domain-separated and binds everything a signature must not be reusable across: the
// verifier that asked, the purpose, the user, the enrolled credential and the challenge itself.
// Each field is one line of UTF-8 text with a fixed name; no field may contain a line break or
// NUL, so the encoding is unambiguous (no two field tuples give the same bytes):
//
//   tokengate-challenge-v1
//   verifier:<verifier id>
//   purpose:<purpose>
//   user:<username>
//   credential:<credential id>
//   challenge:<challenge, base64url without padding>
//
// (lines joined by "\n", no trailing newline). A signature for one verifier, user, purpose or
// credential therefore never verifies for another.
import { VerifierError } from './errors.js';

export const CHALLENGE_MESSAGE_VERSION = 'tokengate-challenge-v1';

/** What a challenge is for; a signature made for one purpose is useless for another. */
export type ChallengePurpose = 'login' | 'enroll' | 'step-up';
export const CHALLENGE_PURPOSES: readonly ChallengePurpose[] = ['login', 'enroll', 'step-up'];

export interface ChallengeMessageFields {
  verifierId: string;
  purpose: ChallengePurpose;
  username: string;
  credentialId: string;
  /** The challenge's bytes, or their base64url form as the verifier sent them. */
  challenge: Uint8Array | string;
}

/** Thrown for a field that would make the message ambiguous (a line break, NUL, or nothing). */
export class ChallengeMessageError extends VerifierError {
  override readonly code = 'ERR_CHALLENGE_MESSAGE';
}

function field(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0) throw new ChallengeMessageError(`${name} must be a non-empty string`);
  if (/[\r\n\0]/.test(value)) throw new ChallengeMessageError(`${name} cannot contain a line break or NUL`);
  return `${name}:${value}`;
}

function challengeText(challenge: Uint8Array | string): string {
  if (typeof challenge === 'string') {
    if (!/^[A-Za-z0-9_-]+$/.test(challenge)) throw new ChallengeMessageError('challenge must be base64url without padding');
    return challenge;
  }
  if (!(challenge instanceof Uint8Array) || challenge.length === 0) throw new ChallengeMessageError('challenge must be bytes or base64url text');
  return Buffer.from(challenge).toString('base64url');
}

/** The exact bytes the token signs for this challenge. */
export function challengeMessage(fields: ChallengeMessageFields): Buffer {
  if (!CHALLENGE_PURPOSES.includes(fields.purpose)) throw new ChallengeMessageError(`purpose must be one of ${CHALLENGE_PURPOSES.join(', ')}`);
  const lines = [
    CHALLENGE_MESSAGE_VERSION,
    field('verifier', fields.verifierId),
    field('purpose', fields.purpose),
    field('user', fields.username),
    field('credential', fields.credentialId),
    field('challenge', challengeText(fields.challenge)),
  ];
  return Buffer.from(lines.join('\n'), 'utf8');
}
