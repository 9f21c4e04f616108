// A session's signing function (PKCS#11's signing group), and `signOn`, the C_SignInit +
// C_SignAsync pair that Session.signChallenge and the pool's direct path share.
import { call, callAsync, pkcs11js, type Handle, type RawPkcs11 } from './binding.js';
import { KeyNotFoundError, NotLoggedInError } from './errors.js';
import type { ObjectRef, TokenKey } from './objects.js';
import { sendSecret } from './pin-attempt.js';
import { checkPin, pinValue, type Pin } from '../util/pin.js';
import { privateKeyIn, userLoggedIn } from './session-objects.js';
import type { Session } from './session.js';
import { finishSignature, prepareSignature, type PreparedSignature, type SignOptions } from './signing.js';

export type SignChallengeOptions = SignOptions & {
  /** The PIN for a key that wants one per signature (CKA_ALWAYS_AUTHENTICATE). */
  contextPin?: string | Pin;
  allowFinalTry?: boolean;
};

/** C_SignInit, then C_SignAsync on the libuv pool; a logout is named as the cause a caller can act on. */
export async function signOn(lib: RawPkcs11, session: Handle, key: TokenKey, prepared: PreparedSignature, beforeSign?: () => Promise<void>): Promise<Buffer> {
  try {
    call(lib, 'C_SignInit', session, prepared.mechanism, key.handle);
  } catch (err) {
    // After a logout a private key's handle is invalid (SoftHSM: CKR_OBJECT_HANDLE_INVALID);
    // the cause the caller can act on is the missing login.
    if (err instanceof KeyNotFoundError && !userLoggedIn(lib, session)) {
      throw new NotLoggedInError('log in as the user to sign', { cause: err });
    }
    throw err;
  }
  if (beforeSign) await beforeSign();
  const output = await callAsync(lib, 'C_SignAsync', session, prepared.input, Buffer.alloc(prepared.outputLength));
  return finishSignature(prepared, output);
}

/**
 * Signs an authentication challenge with a private key on the token. ECDSA input is hashed on
 * the host (tokens' CKM_ECDSA signs a digest); the token call runs on the libuv pool.
 */
export function signChallenge(s: Session, key: TokenKey | ObjectRef, challenge: Uint8Array | string, options: SignChallengeOptions): Promise<Buffer> {
  // Finding the key, the checks and the signature are ONE exclusive operation: as two, a close()
  // queued between them closed the session under a signature already in flight.
  return s.exclusive(async (lib, session) => {
    s.admit(lib, session);
    const resolved = 'handle' in key ? key : privateKeyIn(lib, session, key);
    // Key type, algorithm and challenge are checked before anything is sent to the token.
    const prepared = prepareSignature(resolved, challenge, options);
    const contextLogin =
      resolved.alwaysAuthenticate && options.contextPin !== undefined
        ? async () => {
            // A PIN per signature is the user's PIN: it counts on the user's counter like any login.
            const info = s.token.info();
            const contextPin = pinValue(checkPin(options.contextPin, info.pinLength, 'PIN'));
            await sendSecret({ token: s.token, secret: 'user', allowFinalTry: options.allowFinalTry === true, info }, () =>
              call(lib, 'C_Login', session, pkcs11js.CKU_CONTEXT_SPECIFIC, contextPin),
            );
          }
        : undefined;
    return signOn(lib, session, resolved, prepared, contextLogin);
  });
}
