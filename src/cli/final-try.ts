// How the CLI logs in and spends a last try: the token's counter (or the host's guard) refuses it
// with FinalTryRefusedError unless allowed; the CLI then asks on a terminal, or needs
// --allow-final-try. The refusal itself comes from the login path, never decided here.
import { FinalTryRefusedError, PinLockedError, type Session, type SessionOptions, type Token } from '../index.js';
import type { PinOptions } from './commands/options.js';
import { confirmFinalTry, readSecret } from './secrets.js';

type FinalTryOptions = PinOptions;

/** Runs `op`; when it is refused as a last try, asks (or reads --allow-final-try) and runs it again, allowed. */
export async function withFinalTry<T>(options: FinalTryOptions, op: (allowFinalTry: boolean) => Promise<T>): Promise<T> {
  const allowed = options.allowFinalTry === true;
  try {
    return await op(allowed);
  } catch (err) {
    if (!(err instanceof FinalTryRefusedError) || allowed) throw err;
    if (!(await confirmFinalTry(false))) {
      throw new FinalTryRefusedError('one try is left: a wrong one locks it. Confirm on a terminal, or pass --allow-final-try', { pinType: err.pinType, cause: err });
    }
    return op(true);
  }
}

/** A locked PIN is refused before anyone is asked for it. */
export function refuseIfLocked(token: Token): void {
  if (token.pinState().pinStatus === 'locked') {
    const how = token.unblockSecret === 'puk' ? 'with the PUK' : 'with the SO PIN';
    throw new PinLockedError(`the PIN of "${token.label}" is locked: unblock it ${how} (tokengate unblock-pin)`);
  }
}

/** Logs the session in with the PIN (env, --pin-fd or prompt), every attempt counted by the token's counter. */
async function loginWithPin(session: Session, options: FinalTryOptions): Promise<void> {
  refuseIfLocked(session.token);
  const pin = await readSecret('pin', { pinFd: options.pinFd });
  await withFinalTry(options, (allowFinalTry) => session.login(pin, { allowFinalTry }));
}

/** The body with a session logged in with the PIN, logged out after, whether the body worked or not. */
export async function withLogin<T>(token: Token, sessionOptions: SessionOptions, options: FinalTryOptions, body: (session: Session) => Promise<T>): Promise<T> {
  await using session = await token.openSession(sessionOptions);
  await loginWithPin(session, options);
  try {
    return await body(session);
  } finally {
    await session.logout().catch(() => {});
  }
}
