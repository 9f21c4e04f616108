// Software tokens (SoftHSM) read their files once, at C_Initialize: a PIN that another process
// sets afterwards (the helpdesk's `tokengate unblock-pin` while a kiosk runs) is invisible here, so
// the new PIN would be "wrong" and the old one would still work. The login guard is shared by every
// process on the machine; each PIN set anew is recorded there, and a process can ask whether the
// last change was someone else's since its module was initialised — then `module.reload()`.
import type { Token } from './token.js';

/** Records that this process set a PIN of `token` anew (C_InitPIN, C_SetPIN). */
export function noteOwnChange(token: Token): void {
  const guard = token.loginGuard;
  if (!guard?.recordChange) return;
  token.module.ownChanges.set(token.serial, guard.recordChange(token.guardIdentity));
}

/** True when another process set a PIN of `token` since this module was (re)initialised. */
export function changedElsewhere(token: Token): boolean {
  const last = token.loginGuard?.lastChange?.(token.guardIdentity);
  if (!last || last.changedAt < token.module.initializedAt) return false;
  return token.module.ownChanges.get(token.serial) !== last.generation;
}
