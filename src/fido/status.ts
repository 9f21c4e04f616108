// A CTAP2 status byte becomes the typed error a caller can act on, the same classes the PKCS#11
// side throws where the meaning is the same (a wrong PIN, a blocked PIN, not logged in). The PIN
// statuses get their retry counts from client-pin.ts, which asks the key rather than assuming.
import {
  Ctap2Error,
  FidoNotSupportedError,
  NoCredentialsError,
  NotLoggedInError,
  OperationCancelledError,
  OperationDeniedError,
  PinAuthBlockedError,
  PinIncorrectError,
  PinLockedError,
  PinNotSetError,
  PinPolicyError,
  UserPresenceTimeoutError,
  type CtapFailure,
  type TokengateError,
} from '../errors/index.js';
import { CTAP2_STATUS as S, ctap2StatusName } from './constants.js';

export function ctap2Error(status: number, command: string): TokengateError {
  const ctap: CtapFailure = { status, statusName: ctap2StatusName(status), command };
  const init = { ctap };
  switch (status) {
    case S.PIN_INVALID:
      return new PinIncorrectError('wrong PIN', init);
    case S.PIN_BLOCKED:
      return new PinLockedError('the security key\'s PIN is blocked: only a reset, which erases its credentials, helps', init);
    case S.PIN_AUTH_BLOCKED:
      return new PinAuthBlockedError('too many wrong PINs: unplug the security key and plug it in again', init);
    case S.PIN_NOT_SET:
      return new PinNotSetError('the security key has no PIN yet: set one first', init);
    case S.PIN_POLICY_VIOLATION:
      return new PinPolicyError('the security key refused the new PIN: it breaks the key\'s PIN rules', init);
    case S.PUAT_REQUIRED:
      return new NotLoggedInError('the security key wants its PIN for this: unlock it first', init);
    case S.PIN_AUTH_INVALID:
      return new NotLoggedInError('the security key no longer accepts this unlock (re-plugged, or the PIN token expired): unlock again', init);
    case S.NO_CREDENTIALS:
      return new NoCredentialsError('the security key holds no credential for this relying party', init);
    case S.USER_ACTION_TIMEOUT:
    case S.ACTION_TIMEOUT:
      return new UserPresenceTimeoutError('nobody touched the security key in time', init);
    case S.KEEPALIVE_CANCEL:
      return new OperationCancelledError('the operation was cancelled', init);
    case S.OPERATION_DENIED:
      return new OperationDeniedError('the security key refused the operation', init);
    case S.UNSUPPORTED_ALGORITHM:
      return new FidoNotSupportedError('the security key supports none of the algorithms asked for', init);
    case S.CREDENTIAL_EXCLUDED:
      return new Ctap2Error('this security key is already enrolled for this account', init);
    default:
      return new Ctap2Error(`the security key refused ${command}: ${ctap.statusName}`, init);
  }
}
