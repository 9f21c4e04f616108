// The CTAP2 commands a client for "PIN unlock + sign a challenge" meets: getInfo, clientPIN,
// makeCredential, getAssertion (and getNextAssertion), reset and selection, with the checks in
// the order CTAP 2.1 §6 gives them, so each status code comes back where a real key sends it.
import { encodeCbor, decodeRequest, encodeNonCanonical, concat, read, required, sameBytes, type CborMap, type CborValue, type NonCanonicalKind } from './cbor.js';
import type { ClientPin } from './client-pin.js';
import { Ctap2Cmd, CtapStatusError, Flag, Permission, Status, fail } from './constants.js';
import type { Transaction } from './ctaphid.js';
import { coseKey, newCredential, sha256, signWith, type CredentialAlg, type StoredCredential } from './credentials.js';
import { Dropped, type Presence } from './presence.js';

export interface Ctap2Settings {
  aaguid: Uint8Array;
  algorithms: CredentialAlg[];
  pinProtocols: number[];
  permissionsToken: boolean;
  residentKeys: boolean;
  attestation: 'packed' | 'none';
  counter: 'global' | 'per-credential';
  maxMsgSize: number;
  resetWindowMs: number;
  firmwareVersion: number;
}

export interface Ctap2Faults {
  /** Encode this many upcoming successful CBOR replies non-canonically. */
  nonCanonicalNext: number;
  nonCanonicalKind: NonCanonicalKind;
}

export interface Ctap2State {
  readonly settings: Ctap2Settings;
  readonly faults: Ctap2Faults;
  readonly pin: ClientPin;
  readonly presence: Presence;
  credentials: StoredCredential[];
  globalCounter: number;
  readonly powerUpAt: number;
  record(command: number, params: CborMap | undefined): void;
}

interface PendingAssertions {
  credentials: StoredCredential[];
  rpIdHash: Uint8Array;
  clientDataHash: Uint8Array;
  flags: number;
  uv: boolean;
}

export class Ctap2 {
  private pending: PendingAssertions | undefined;

  constructor(private readonly state: Ctap2State) {}

  /** A new power cycle forgets the getNextAssertion state. */
  powerCycle(): void {
    this.pending = undefined;
  }

  async handle(tx: Transaction): Promise<Uint8Array> {
    const command = tx.payload[0]!;
    try {
      if (tx.payload.length - 1 > this.state.settings.maxMsgSize) fail(Status.INVALID_LENGTH);
      const body = tx.payload.subarray(1);
      const params = body.length > 0 ? decodeRequest(body) : undefined;
      this.state.record(command, params);
      if (command !== Ctap2Cmd.GET_NEXT_ASSERTION) this.pending = undefined;
      return this.reply(await this.command(command, params ?? new Map(), tx));
    } catch (error) {
      if (error instanceof CtapStatusError) return Uint8Array.of(error.status);
      if (error instanceof Dropped) throw error;
      return Uint8Array.of(Status.OTHER);
    }
  }

  private reply(result: CborMap | undefined): Uint8Array {
    if (!result) return Uint8Array.of(Status.OK);
    const faults = this.state.faults;
    if (faults.nonCanonicalNext > 0 && (result.size > 1 || faults.nonCanonicalKind === 'non-minimal')) {
      faults.nonCanonicalNext -= 1;
      return concat([Uint8Array.of(Status.OK), encodeNonCanonical(result, faults.nonCanonicalKind)]);
    }
    return concat([Uint8Array.of(Status.OK), encodeCbor(result)]);
  }

  private command(command: number, params: CborMap, tx: Transaction): Promise<CborMap | undefined> | CborMap | undefined {
    switch (command) {
      case Ctap2Cmd.GET_INFO:
        return this.getInfo();
      case Ctap2Cmd.CLIENT_PIN:
        return this.state.pin.handle(params);
      case Ctap2Cmd.MAKE_CREDENTIAL:
        return this.makeCredential(params, tx);
      case Ctap2Cmd.GET_ASSERTION:
        return this.getAssertion(params, tx);
      case Ctap2Cmd.GET_NEXT_ASSERTION:
        return this.getNextAssertion();
      case Ctap2Cmd.RESET:
        return this.reset(tx);
      case 0x0b: // authenticatorSelection
        return this.state.presence.wait(tx).then(() => undefined);
      default:
        return fail(Status.INVALID_COMMAND);
    }
  }

  getInfo(): CborMap {
    const s = this.state.settings;
    const options = new Map<string, boolean>([
      ['rk', s.residentKeys],
      ['up', true],
      ['plat', false],
      ['clientPin', this.state.pin.pinSet],
    ]);
    if (s.permissionsToken) options.set('pinUvAuthToken', true);
    const versions = s.permissionsToken ? ['U2F_V2', 'FIDO_2_0', 'FIDO_2_1'] : ['U2F_V2', 'FIDO_2_0'];
    const info = new Map<number, CborValue>([
      [1, versions],
      [3, s.aaguid],
      [4, options],
      [5, s.maxMsgSize],
      [6, s.pinProtocols],
      [7, 8],
      [8, 128],
      [9, ['usb']],
      [10, s.algorithms.map((alg) => new Map<string, CborValue>([['alg', alg], ['type', 'public-key']]))],
      [14, s.firmwareVersion],
    ]);
    return info;
  }

  private async makeCredential(p: CborMap, tx: Transaction): Promise<CborMap> {
    const { pin, presence, settings } = this.state;
    const clientDataHash = required(read.bytes(p, 1));
    const rp = required(read.map(p, 2));
    const user = required(read.map(p, 3));
    const pubKeyParams = required(read.array(p, 4));
    const excludeList = read.array(p, 5);
    read.map(p, 6);
    const options = read.map(p, 7) ?? new Map();
    const auth = read.bytes(p, 8);
    const protocol = read.uint(p, 9);
    const rpId = required(read.text(rp, 'id'));
    const userId = required(read.bytes(user, 'id'));
    if (auth?.length === 0) return this.touchProbe(tx);
    if (auth) pin.protocol(protocol);
    const alg = chooseAlgorithm(pubKeyParams, settings.algorithms);
    const rk = read.bool(options, 'rk') ?? false;
    if (read.bool(options, 'up') === false) fail(Status.INVALID_OPTION);
    if (read.bool(options, 'uv') === true && !auth) fail(Status.INVALID_OPTION);
    if (rk && !settings.residentKeys) fail(Status.UNSUPPORTED_OPTION);
    const uv = this.checkUv(auth, protocol, clientDataHash, Permission.MC, rpId);
    if (!uv && pin.pinSet) fail(Status.PUAT_REQUIRED);
    const rpIdHash = sha256(rpId);
    for (const id of descriptorIds(excludeList)) {
      if (this.state.credentials.some((c) => sameBytes(c.id, id) && sameBytes(c.rpIdHash, rpIdHash))) {
        await presence.wait(tx);
        fail(Status.CREDENTIAL_EXCLUDED);
      }
    }
    await presence.wait(tx);
    const credential = newCredential({
      rpId,
      rpIdHash,
      alg,
      resident: rk,
      userId,
      userName: read.text(user, 'name'),
      userDisplayName: read.text(user, 'displayName'),
    });
    if (rk) this.state.credentials = this.state.credentials.filter((c) => !(c.resident && c.rpId === rpId && c.userId && sameBytes(c.userId, userId)));
    this.state.credentials.push(credential);
    if (uv) pin.tokenUsed();
    const cose = encodeCbor(coseKey(credential));
    const idLength = Uint8Array.of(credential.id.length >> 8, credential.id.length & 0xff);
    const count = settings.counter === 'global' ? this.state.globalCounter : 0;
    const flags = Flag.UP | Flag.AT | (uv ? Flag.UV : 0);
    const authData = concat([rpIdHash, Uint8Array.of(flags), be32(count), settings.aaguid, idLength, credential.id, cose]);
    const attStmt =
      settings.attestation === 'packed'
        ? new Map<string, CborValue>([
            ['alg', alg],
            ['sig', signWith(credential, concat([authData, clientDataHash]))],
          ])
        : new Map<string, CborValue>();
    return new Map<number, CborValue>([
      [1, settings.attestation],
      [2, authData],
      [3, attStmt],
    ]);
  }

  private async getAssertion(p: CborMap, tx: Transaction): Promise<CborMap> {
    const { pin, presence } = this.state;
    const rpId = required(read.text(p, 1));
    const clientDataHash = required(read.bytes(p, 2));
    const allowList = read.array(p, 3);
    read.map(p, 4);
    const options = read.map(p, 5) ?? new Map();
    const auth = read.bytes(p, 6);
    const protocol = read.uint(p, 7);
    if (auth?.length === 0) return this.touchProbe(tx);
    if (auth) pin.protocol(protocol);
    if (options.has('rk')) fail(Status.UNSUPPORTED_OPTION);
    const up = read.bool(options, 'up') ?? true;
    if (read.bool(options, 'uv') === true && !auth) fail(Status.INVALID_OPTION);
    const uv = this.checkUv(auth, protocol, clientDataHash, Permission.GA, rpId);
    const rpIdHash = sha256(rpId);
    const ids = descriptorIds(allowList);
    const found =
      ids.length > 0
        ? ids.flatMap((id) => this.state.credentials.filter((c) => sameBytes(c.id, id) && sameBytes(c.rpIdHash, rpIdHash)).slice(0, 1))
        : this.state.credentials.filter((c) => c.resident && sameBytes(c.rpIdHash, rpIdHash)).sort((a, b) => b.createdAt - a.createdAt);
    if (found.length === 0) fail(Status.NO_CREDENTIALS);
    if (up) await presence.wait(tx);
    // CTAP 2.1 §6.2.2 step 9: the token's permissions go with a user-presence test only; a silent
    // assertion (up=false) leaves them, so one unlock serves any number of silent assertions.
    if (uv && up) pin.tokenUsed();
    const flags = (up ? Flag.UP : 0) | (uv ? Flag.UV : 0);
    const discoverable = ids.length === 0;
    const credentials = discoverable ? found : found.slice(0, 1);
    if (discoverable && credentials.length > 1) {
      this.pending = { credentials: credentials.slice(1), rpIdHash, clientDataHash, flags, uv };
    }
    return this.assertion(credentials[0]!, rpIdHash, clientDataHash, flags, uv, discoverable && credentials.length > 1 ? credentials.length : undefined);
  }

  private getNextAssertion(): CborMap {
    const pending = this.pending;
    const next = pending?.credentials.shift();
    if (!pending || !next) {
      this.pending = undefined;
      return fail(Status.NOT_ALLOWED);
    }
    return this.assertion(next, pending.rpIdHash, pending.clientDataHash, pending.flags, pending.uv, undefined);
  }

  private assertion(credential: StoredCredential, rpIdHash: Uint8Array, clientDataHash: Uint8Array, flags: number, uv: boolean, count: number | undefined): CborMap {
    const signCount = this.state.settings.counter === 'global' ? ++this.state.globalCounter : ++credential.signCount;
    const authData = concat([rpIdHash, Uint8Array.of(flags), be32(signCount)]);
    const result = new Map<number, CborValue>([
      [1, new Map<string, CborValue>([['id', credential.id], ['type', 'public-key']])],
      [2, authData],
      [3, signWith(credential, concat([authData, clientDataHash]))],
    ]);
    if (credential.resident && credential.userId) {
      const user = new Map<string, CborValue>([['id', credential.userId]]);
      if (uv && credential.userName !== undefined) user.set('name', credential.userName);
      if (uv && credential.userDisplayName !== undefined) user.set('displayName', credential.userDisplayName);
      result.set(4, user);
    }
    if (count !== undefined) result.set(5, count);
    return result;
  }

  private async reset(tx: Transaction): Promise<undefined> {
    if (Date.now() - this.state.powerUpAt > this.state.settings.resetWindowMs) fail(Status.NOT_ALLOWED);
    await this.state.presence.wait(tx);
    this.state.credentials = [];
    this.state.pin.reset();
    return undefined;
  }

  /** UV by pinUvAuthParam: checked against the token, or false when none was given. */
  private checkUv(auth: Uint8Array | undefined, protocol: number | undefined, clientDataHash: Uint8Array, permission: number, rpId: string): boolean {
    if (!auth) return false;
    if (!this.state.pin.pinSet) fail(Status.PIN_NOT_SET);
    this.state.pin.checkAuthParam(protocol, auth, clientDataHash, permission, rpId);
    return true;
  }

  /** A zero-length pinUvAuthParam: "touch to select this key" (CTAP 2.1 §6.1.2 step 1). */
  private async touchProbe(tx: Transaction): Promise<never> {
    await this.state.presence.wait(tx);
    return fail(this.state.pin.pinSet ? Status.PIN_INVALID : Status.PIN_NOT_SET);
  }
}

function chooseAlgorithm(params: CborValue[], supported: CredentialAlg[]): CredentialAlg {
  for (const entry of params) {
    if (!(entry instanceof Map)) fail(Status.CBOR_UNEXPECTED_TYPE);
    const map = entry as CborMap;
    const alg = required(read.int(map, 'alg'));
    const type = required(read.text(map, 'type'));
    if (type === 'public-key' && supported.includes(alg as CredentialAlg)) return alg as CredentialAlg;
  }
  return fail(Status.UNSUPPORTED_ALGORITHM);
}

function descriptorIds(list: CborValue[] | undefined): Uint8Array[] {
  return (list ?? []).map((entry) => {
    if (!(entry instanceof Map)) return fail(Status.CBOR_UNEXPECTED_TYPE);
    required(read.text(entry as CborMap, 'type'));
    return required(read.bytes(entry as CborMap, 'id'));
  });
}

function be32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0);
  return out;
}
