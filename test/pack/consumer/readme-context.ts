// What the README's examples take from the prose around them, typed: an example of sessions uses
// the `token` of the one before it, the PIN the user typed, the challenge the verifier sent.
// readme-examples.mjs imports each of these into every README block that does not declare the
// name itself. Never run: the values exist only for the type checker.
import type { Blocklist, Pkcs11Module, Session, Token } from 'tokengate';

export declare const module: Pkcs11Module;
export declare const path: string;
export declare const token: Token;
export declare const session: Session;
export declare const pin: string;
export declare const oldPin: string;
export declare const newPin: string;
export declare const newUserPin: string;
export declare const soPin: string;
export declare const puk: string;
export declare const challenge: Uint8Array;
export declare const challenges: Uint8Array[];
export declare const signal: AbortSignal;
export declare const blocklist: Blocklist;
export declare const cachePath: string;
export declare const fetchFromVerifier: Parameters<Blocklist['refresh']>[0];
export declare const url: string;
export declare const apiKey: string;
export declare const username: string;
export declare const password: string;
export declare const securityToken: string;
export declare const clientIp: string;
/** The application's own: shows "2 tries left" (or nothing, when nobody knows). */
export declare function showRetryHint(retriesLeft: number | undefined): void;
/** The application's own: asks whether to spend the last try. */
export declare function askFirst(): Promise<boolean>;
