// CTAP2 over CTAPHID_CBOR: a command byte and a canonical CBOR map out, a status byte and a strictly
// decoded map back (CTAP 2.1 §6, §8). Only the commands tokengate uses; each result typed.
import { FidoProtocolError } from '../errors/index.js';
import {
  decodeResponseMap,
  encodeCbor,
  optionalArray,
  optionalBool,
  optionalBytes,
  optionalInt,
  optionalMap,
  optionalText,
  requiredBytes,
  type CborMap,
  type CborValue,
} from './cbor.js';
import { CTAP2_COMMAND, CTAPHID, KEEPALIVE_STATUS } from './constants.js';
import type { CtapHidConnection, TransactOptions } from './ctaphid.js';
import { ctap2Error } from './status.js';

export interface CallOptions {
  signal?: AbortSignal | undefined;
  /** How long the key may take, touch included (default 30 s). */
  timeoutMs?: number | undefined;
  /** Called once, when the key first asks to be touched (keepalive UPNEEDED — not PROCESSING). */
  onTouch?: (() => void) | undefined;
}

export interface AuthenticatorInfo {
  versions: string[];
  extensions: string[];
  /** 16 bytes, as hex. */
  aaguid: string;
  options: Record<string, boolean>;
  maxMsgSize: number | undefined;
  pinUvAuthProtocols: number[];
  /** COSE algorithm identifiers the key can make credentials with, when it says. */
  algorithms: number[] | undefined;
  minPinLength: number | undefined;
  firmwareVersion: number | undefined;
  forcePinChange: boolean;
}

export interface CredentialDescriptor {
  type: 'public-key';
  id: Uint8Array;
}

export interface MakeCredentialRequest {
  clientDataHash: Uint8Array;
  rp: { id: string; name?: string };
  user: { id: Uint8Array; name?: string; displayName?: string };
  algorithms: number[];
  excludeList?: CredentialDescriptor[];
  residentKey?: boolean;
  pinUvAuthParam?: Uint8Array;
  pinUvAuthProtocol?: number;
}

export interface MakeCredentialResponse {
  fmt: string;
  authData: Uint8Array;
  attStmt: CborMap;
}

export interface GetAssertionRequest {
  rpId: string;
  clientDataHash: Uint8Array;
  allowList?: CredentialDescriptor[];
  /** Ask for a touch (default true). */
  userPresence?: boolean;
  pinUvAuthParam?: Uint8Array;
  pinUvAuthProtocol?: number;
}

export interface GetAssertionResponse {
  credentialId: Uint8Array | undefined;
  authData: Uint8Array;
  signature: Uint8Array;
  userHandle: Uint8Array | undefined;
  numberOfCredentials: number | undefined;
}

export class Ctap2 {
  constructor(readonly connection: CtapHidConnection) {}

  /** Sends one CTAP2 command; a non-zero status becomes its typed error. */
  async call(command: number, params: Map<number, unknown> | undefined, name: string, options: CallOptions = {}): Promise<CborMap> {
    const body = params ? encodeCbor(params) : new Uint8Array(0);
    const request = new Uint8Array(1 + body.length);
    request[0] = command;
    request.set(body, 1);
    let touched = false;
    const transact: TransactOptions = {
      signal: options.signal,
      timeoutMs: options.timeoutMs,
      onKeepalive: (status) => {
        if (status === KEEPALIVE_STATUS.UPNEEDED && !touched) {
          touched = true;
          options.onTouch?.();
        }
      },
    };
    const answer = await this.connection.transact(CTAPHID.CBOR, request, transact);
    if (answer.length === 0) throw new FidoProtocolError(`${name}: the security key sent an empty answer`);
    if (answer[0] !== 0) throw ctap2Error(answer[0]!, name);
    return answer.length === 1 ? new Map() : decodeResponseMap(answer.subarray(1), name);
  }

  async getInfo(options?: CallOptions): Promise<AuthenticatorInfo> {
    const what = 'authenticatorGetInfo';
    const m = await this.call(CTAP2_COMMAND.getInfo, undefined, what, options);
    const aaguid = requiredBytes(m, 3, what);
    if (aaguid.length !== 16) throw new FidoProtocolError(`${what}: the AAGUID is ${aaguid.length} bytes, not 16`);
    const optionMap = optionalMap(m, 4, what) ?? new Map();
    const options_: Record<string, boolean> = {};
    for (const [k, v] of optionMap) if (typeof k === 'string' && typeof v === 'boolean') options_[k] = v;
    const algorithms = optionalArray(m, 10, what)?.flatMap((entry) => {
      const alg = entry instanceof Map ? entry.get('alg') : undefined;
      return typeof alg === 'number' ? [alg] : [];
    });
    return {
      versions: strings(optionalArray(m, 1, what) ?? []),
      extensions: strings(optionalArray(m, 2, what) ?? []),
      aaguid: Buffer.from(aaguid).toString('hex'),
      options: options_,
      maxMsgSize: optionalInt(m, 5, what),
      pinUvAuthProtocols: (optionalArray(m, 6, what) ?? []).filter((v): v is number => typeof v === 'number'),
      algorithms,
      minPinLength: optionalInt(m, 0x0d, what),
      firmwareVersion: optionalInt(m, 0x0e, what),
      forcePinChange: optionalBool(m, 0x0c, what) ?? false,
    };
  }

  async makeCredential(req: MakeCredentialRequest, options?: CallOptions): Promise<MakeCredentialResponse> {
    const what = 'authenticatorMakeCredential';
    const params = new Map<number, unknown>([
      [1, req.clientDataHash],
      [2, compact({ id: req.rp.id, name: req.rp.name })],
      [3, compact({ id: req.user.id, name: req.user.name, displayName: req.user.displayName })],
      [4, req.algorithms.map((alg) => ({ alg, type: 'public-key' }))],
    ]);
    if (req.excludeList?.length) params.set(5, req.excludeList.map(descriptor));
    if (req.residentKey) params.set(7, { rk: true });
    if (req.pinUvAuthParam) {
      params.set(8, req.pinUvAuthParam);
      params.set(9, req.pinUvAuthProtocol);
    }
    const m = await this.call(CTAP2_COMMAND.makeCredential, params, what, options);
    const fmt = optionalText(m, 1, what);
    if (fmt === undefined) throw new FidoProtocolError(`${what}: no attestation format`);
    return { fmt, authData: requiredBytes(m, 2, what), attStmt: optionalMap(m, 3, what) ?? new Map() };
  }

  async getAssertion(req: GetAssertionRequest, options?: CallOptions): Promise<GetAssertionResponse> {
    const what = 'authenticatorGetAssertion';
    const params = new Map<number, unknown>([
      [1, req.rpId],
      [2, req.clientDataHash],
    ]);
    if (req.allowList?.length) params.set(3, req.allowList.map(descriptor));
    if (req.userPresence === false) params.set(5, { up: false });
    if (req.pinUvAuthParam) {
      params.set(6, req.pinUvAuthParam);
      params.set(7, req.pinUvAuthProtocol);
    }
    return assertionOf(await this.call(CTAP2_COMMAND.getAssertion, params, what, options), what);
  }

  /** The next of a discoverable getAssertion's credentials (`numberOfCredentials` − 1 of them follow the first). */
  async getNextAssertion(options?: CallOptions): Promise<GetAssertionResponse> {
    const what = 'authenticatorGetNextAssertion';
    return assertionOf(await this.call(CTAP2_COMMAND.getNextAssertion, undefined, what, options), what);
  }

  /** Erases every credential and the PIN. Only ever on an explicit call. */
  async reset(options?: CallOptions): Promise<void> {
    await this.call(CTAP2_COMMAND.reset, undefined, 'authenticatorReset', options);
  }
}

function assertionOf(m: CborMap, what: string): GetAssertionResponse {
  const credential = optionalMap(m, 1, what);
  const user = optionalMap(m, 4, what);
  return {
    credentialId: credential ? optionalBytes(credential, 'id', what) : undefined,
    authData: requiredBytes(m, 2, what),
    signature: requiredBytes(m, 3, what),
    userHandle: user ? optionalBytes(user, 'id', what) : undefined,
    numberOfCredentials: optionalInt(m, 5, what),
  };
}

function descriptor(d: CredentialDescriptor): Record<string, unknown> {
  return { id: d.id, type: d.type };
}

/** Drops absent fields: CTAP2 has no null, and python-fido2 would read one as False. */
function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function strings(values: CborValue[]): string[] {
  return values.filter((v): v is string => typeof v === 'string');
}
