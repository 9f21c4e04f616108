// PKCS#11 login state belongs to the application and token, not the session: once any session of
// ours is logged in, C_Login answers CKR_USER_ALREADY_LOGGED_IN without looking at the PIN. So that
// a second login with a wrong PIN is not taken as proof, the PIN of the login we made is remembered
// as an HMAC under a key that lives only in this process's memory, and compared in constant time.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const processKey = randomBytes(32);
const verifiers = new Map<string, Buffer>();

function tag(pin: string): Buffer {
  return createHmac('sha256', processKey).update(pin, 'utf8').digest();
}

function slotKey(modulePath: string, serial: string, userType: string): string {
  return `${modulePath}\0${serial}\0${userType}`;
}

export function rememberLogin(modulePath: string, serial: string, userType: string, pin: string): void {
  verifiers.set(slotKey(modulePath, serial, userType), tag(pin));
}

/** True when `pin` is the one we logged in with; false when it differs or the login was not ours. */
export function isRememberedLogin(modulePath: string, serial: string, userType: string, pin: string): boolean {
  const known = verifiers.get(slotKey(modulePath, serial, userType));
  return known !== undefined && timingSafeEqual(known, tag(pin));
}

/** Every login of this module is gone (it was finalized). */
export function forgetModuleLogins(modulePath: string): void {
  for (const key of verifiers.keys()) {
    if (key.startsWith(`${modulePath}\0`)) verifiers.delete(key);
  }
}

export function forgetLogin(modulePath: string, serial: string): void {
  for (const key of verifiers.keys()) {
    if (key.startsWith(`${modulePath}\0${serial}\0`)) verifiers.delete(key);
  }
}
