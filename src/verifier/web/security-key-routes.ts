// Security keys on the self-service pages: "Sign in with a security key" on the sign-in page and
// "Register a security key" on My cards and security keys. WebAuthn needs the browser's
// navigator.credentials, so each ceremony is two steps: the page's script (assets/security-key.js)
// asks for the options here (JSON), hands them to the key, and posts the key's answer in a plain
// form, answered like every other form (a new session, or the page again with the reason). The
// checks are the verifier's FIDO path's, as over the API: the challenge consumed once, the
// address's failure budget, the policy's password, the key's state, signature and counter.
//
// The sign-in takes the username when one is typed (only that user's keys are asked for, so a
// key holding a non-discoverable credential works too) and otherwise asks the key for a
// discoverable credential, whose user it names. Every refusal reads like the password sign-in's
// one generic sentence — whether the user exists, has a key, or the key is blocked stays in the
// audit log — except a missing password where the policy wants one (said plainly, as the API does:
// only the holder of an enrolled key hears it) and throttling.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidCredentialsError, InvalidInputError, PasswordRequiredError, RateLimitedError, VerifierError } from '../errors.js';
import type { Verifier } from '../verifier.js';
import { optionalText } from './forms.js';
import { redirectWith } from './render.js';
import { action, form, identityOf, scriptStep, startSession, type Page } from './routing.js';

/** base64url of a key's answer: authenticator data, clientDataJSON, signature, attestation (with certificates). */
const ANSWER_LENGTHS = { challengeId: 64, credentialId: 1400, authenticatorData: 4096, clientDataJSON: 4096, signature: 1400, attestationObject: 12_000, transports: 200, label: 100 };

/** Whether this page's origin is one the relying party serves: a key's answer from elsewhere is refused anyway. */
export function keysServedHere(verifier: Verifier, request: FastifyRequest): boolean {
  return verifier.relyingParty.origins.includes(`${request.protocol}://${request.host}`);
}

/** The page's sentence for a refused key sign-in: the generic one, but for throttling and a missing password. */
function signInRefusal(err: unknown): unknown {
  if (!(err instanceof VerifierError) || err instanceof RateLimitedError) return err;
  if (err instanceof PasswordRequiredError) return new InvalidInputError('your account needs your password with the security key: type it in the Password field, then use the key again');
  return new InvalidCredentialsError();
}

const remaining = (verifier: Verifier, expiresAt: Date) => Math.max(1000, expiresAt.getTime() - verifier.now());

export function securityKeyRoutes(web: FastifyInstance, verifier: Verifier, pages: { signIn: Page; cards: Page }): void {
  scriptStep(web, '/account/sign-in/key/options', {
    required: [],
    optional: ['username'],
    guard: 'anyone',
    handle: async (request) => {
      try {
        const username = optionalText(form(request).username);
        const issued = await verifier.challenges.issueFido({ ...(username ? { username } : {}), purpose: 'login', clientIp: request.ip });
        const { challengeId, challenge, rpId, allowCredentialIds, userVerification, passwordRequired, expiresAt } = issued;
        return { challengeId, challenge, rpId, allowCredentialIds, userVerification, passwordRequired, timeoutMs: remaining(verifier, expiresAt) };
      } catch (err) {
        throw signInRefusal(err);
      }
    },
  });

  action(web, '/account/sign-in/key', {
    required: ['challengeId', 'credentialId', 'authenticatorData', 'clientDataJSON', 'signature'],
    optional: ['username', 'password'],
    lengths: ANSWER_LENGTHS,
    guard: 'anyone',
    page: pages.signIn,
    handle: async (request, reply) => {
      const { challengeId = '', credentialId = '', authenticatorData = '', clientDataJSON = '', signature = '', username, password } = form(request);
      const answer = {
        challengeId,
        credentialId,
        authenticatorData: Buffer.from(authenticatorData, 'base64url'),
        clientDataJSON: Buffer.from(clientDataJSON, 'base64url'),
        signature: Buffer.from(signature, 'base64url'),
        ...(optionalText(username) ? { username: optionalText(username) } : {}),
        ...(password ? { password } : {}),
        clientIp: request.ip,
      };
      try {
        return await startSession(request, reply, 'account', (previous) => verifier.webSessions.signInWithKey(answer, previous));
      } catch (err) {
        throw signInRefusal(err);
      }
    },
  });

  // Registering needs the current password, as the API's self-service enrollment does: a session
  // left open on a shared screen must not be enough to add a way in.
  scriptStep(web, '/account/keys/options', {
    required: ['password'],
    guard: 'user',
    handle: async (request) => {
      const { username } = identityOf(request, 'user');
      await verifier.selfService.checkPassword('self.credential-enroll', { username, password: form(request).password ?? '', clientIp: request.ip });
      const options = await verifier.credentials.fidoRegistrationOptions(username);
      const { challengeId, challenge, rp, user, algorithms, excludeCredentialIds, userVerification, expiresAt } = options;
      return { challengeId, challenge, rp, user, algorithms, excludeCredentialIds, userVerification, timeoutMs: remaining(verifier, expiresAt) };
    },
  });

  action(web, '/account/keys', {
    required: ['challengeId', 'attestationObject', 'clientDataJSON'],
    optional: ['label', 'transports'],
    lengths: ANSWER_LENGTHS,
    guard: 'user',
    page: pages.cards,
    handle: async (request, reply) => {
      const { username } = identityOf(request, 'user');
      const { challengeId = '', attestationObject = '', clientDataJSON = '', label, transports } = form(request);
      await verifier.credentials.registerFido(username, {
        username,
        challengeId,
        attestationObject: Buffer.from(attestationObject, 'base64url'),
        clientDataJSON: Buffer.from(clientDataJSON, 'base64url'),
        label: optionalText(label) ?? 'Security key',
        transports: (transports ?? '').split(',').map((t) => t.trim()).filter(Boolean),
      });
      return redirectWith(reply, '/account/cards', 'key-registered');
    },
  });
}
