// A session's key management function: generating a key pair on the token.
import { call, type Handle, type RawPkcs11 } from './binding.js';
import { CKS_RO_PUBLIC_SESSION, CKS_RO_USER_FUNCTIONS, CKS_RW_USER_FUNCTIONS } from './constants.js';
import { NotLoggedInError, SessionReadOnlyError } from './errors.js';
import { generateKeyPairOn, planKeyPair, type GenerateKeyPairOptions } from './keygen.js';
import type { TokenKey } from './objects.js';
import { PublicKey, publicKeyJwk } from './public-key.js';
import type { Session } from './session.js';

/** Creating keys needs a read-write session and the user's login; say which is missing before the token does. */
function requireWritableUserSession(lib: RawPkcs11, session: Handle): void {
  const { state } = call(lib, 'C_GetSessionInfo', session);
  if (state === CKS_RO_PUBLIC_SESSION || state === CKS_RO_USER_FUNCTIONS) {
    throw new SessionReadOnlyError('open the session with { write: true } to create keys');
  }
  if (state !== CKS_RW_USER_FUNCTIONS) throw new NotLoggedInError('log in as the user to create keys');
}

/**
 * Generates a key pair on the token (read-write session, user logged in), off the event loop. The
 * private half is sensitive, never extractable and signs only; both halves get `label` and `id`.
 */
export async function generateKeyPair(s: Session, options: GenerateKeyPairOptions): Promise<{ privateKey: TokenKey; publicKey: PublicKey }> {
  const plan = planKeyPair(options);
  if (!s.readWrite) throw new SessionReadOnlyError('open the session with { write: true } to create keys');
  return s.exclusive(async (lib, session) => {
    requireWritableUserSession(lib, session);
    const { privateKey, publicKey } = await generateKeyPairOn(lib, session, plan);
    return { privateKey, publicKey: new PublicKey(publicKeyJwk(lib, session, publicKey), publicKey) };
  });
}
