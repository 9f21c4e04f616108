// The one place pkcs11js is touched. Every call into the binding goes through `call`/`callAsync`,
// so a CKR code is translated into a typed error exactly once, with the function that failed.
import type * as Pkcs11Js from 'pkcs11js';
import { translateBindingError } from './errors.js';
import { pkcs11js } from './native.js';

export { pkcs11js };

export type RawPkcs11 = Pkcs11Js.PKCS11;
export type Handle = Buffer;
export type RawTemplate = Pkcs11Js.Template;
export type RawMechanism = Pkcs11Js.Mechanism;
export type RawTokenInfo = Pkcs11Js.TokenInfo;
export type RawSlotInfo = Pkcs11Js.SlotInfo;
export type RawModuleInfo = Pkcs11Js.ModuleInfo;


type Method = {
  [K in keyof RawPkcs11]: RawPkcs11[K] extends (...args: never[]) => unknown ? K : never;
}[keyof RawPkcs11];

/** Calls a synchronous PKCS#11 function, translating any failure. */
export function call<M extends Method>(
  lib: RawPkcs11,
  fn: M,
  ...args: Parameters<RawPkcs11[M]>
): ReturnType<RawPkcs11[M]> {
  try {
    return (lib[fn] as (...a: unknown[]) => ReturnType<RawPkcs11[M]>).apply(lib, args);
  } catch (err) {
    throw translateBindingError(err, fn);
  }
}

/** Calls one of pkcs11js's Promise-returning functions (run on the libuv pool), translating failures. */
export async function callAsync<M extends Method>(
  lib: RawPkcs11,
  fn: M,
  ...args: Parameters<RawPkcs11[M]>
): Promise<Awaited<ReturnType<RawPkcs11[M]>>> {
  try {
    return await (lib[fn] as (...a: unknown[]) => Promise<Awaited<ReturnType<RawPkcs11[M]>>>).apply(
      lib,
      args,
    );
  } catch (err) {
    throw translateBindingError(err, fn);
  }
}

/** Runs `body`, which calls the binding directly (for overloads `call` cannot type), translating failures as `fn`. */
export function guard<T>(fn: string, body: () => T): T {
  try {
    return body();
  } catch (err) {
    throw translateBindingError(err, fn);
  }
}
