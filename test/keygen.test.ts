// Integration: key pairs generated on the token. Every type signs, and node:crypto verifies against
// the SPKI read off the token; the private half is sensitive, never extractable and signs only;
// OpenSC's pkcs11-tool (its own process) and graphene-pk11 (this process) see the same objects.
import { execFileSync } from 'node:child_process';
import { constants, createPublicKey, randomBytes, verify } from 'node:crypto';
import { Module, SessionFlag, type SessionObject } from 'graphene-pk11';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pkcs11Module, type KeyPairType, type PublicKey, type Session, type Token, type TokenKey } from '../src/index.js';
import { call } from '../src/pkcs11/binding.js';
import { CKK_EC_EDWARDS } from '../src/pkcs11/constants.js';
import { pkcs11js } from '../src/pkcs11/native.js';
import { objectsByGraphene, objectsByPkcs11Tool } from './helpers/readback.js';
import { useSoftHsm } from './helpers/softhsm.js';

const hsm = useSoftHsm({ tokens: [{ label: 'keygen', keys: [] }] });

let mod: Pkcs11Module;
let token: Token;
let session: Session;

const userPin = () => hsm.current.tokens[0]!.userPin;

beforeAll(async () => {
  mod = await Pkcs11Module.load(hsm.current.modulePath);
  token = mod.token({ label: 'keygen' });
  session = await token.openSession({ write: true });
  await session.login(userPin());
});

afterAll(async () => {
  await session?.close();
  await mod?.close();
});

interface Case {
  type: KeyPairType;
  keyType: TokenKey['keyType'];
  curve?: string;
  bits?: number;
  ckk: number;
  /** node:crypto's digest for the default algorithm (null: Ed25519 hashes for itself). */
  hash: string | null;
  /** What pkcs11-tool prints after "Private Key Object;" / "Public Key Object;". */
  toolType: string;
}

const CASES: Case[] = [
  { type: 'ec-p256', keyType: 'ec', curve: 'P-256', ckk: pkcs11js.CKK_EC, hash: 'sha256', toolType: 'EC' },
  { type: 'ec-p384', keyType: 'ec', curve: 'P-384', ckk: pkcs11js.CKK_EC, hash: 'sha384', toolType: 'EC' },
  { type: 'rsa-2048', keyType: 'rsa', bits: 2048, ckk: pkcs11js.CKK_RSA, hash: 'sha256', toolType: 'RSA' },
  { type: 'rsa-3072', keyType: 'rsa', bits: 3072, ckk: pkcs11js.CKK_RSA, hash: 'sha256', toolType: 'RSA' },
  { type: 'ed25519', keyType: 'ed25519', ckk: CKK_EC_EDWARDS, hash: null, toolType: 'EC_EDWARDS' },
];

const generated = new Map<KeyPairType, { privateKey: TokenKey; publicKey: PublicKey }>();

/** CK_BBOOL / CK_ULONG attributes of one object, read with our session. */
async function attributes(key: TokenKey, types: number[]): Promise<number[]> {
  const values = await session.exclusive((lib, h) => call(lib, 'C_GetAttributeValue', h, key.handle, types.map((type) => ({ type }))));
  return values.map((a) => (a.value.length === 1 ? a.value[0]! : a.value.readUInt32LE(0)));
}

async function failure(op: Promise<unknown>): Promise<{ code?: string; rvName?: string }> {
  try {
    await op;
  } catch (err) {
    return err as { code?: string };
  }
  throw new Error('expected a failure');
}

describe.each(CASES)('$type', (c) => {
  const label = `gen-${c.type}`;

  it('is generated on the token with the same label and a 16-byte id on both halves', async () => {
    const pair = await session.generateKeyPair({ type: c.type, label });
    generated.set(c.type, pair);
    const { privateKey, publicKey } = pair;
    expect(privateKey).toMatchObject({ objectClass: 'privateKey', label, keyType: c.keyType, curve: c.curve, modulusBits: c.bits, alwaysAuthenticate: false });
    expect(privateKey.id).toHaveLength(16);
    expect(publicKey.keyType).toBe(c.keyType);
    const pub = await session.findPublicKey({ id: privateKey.id });
    expect(pub).toMatchObject({ objectClass: 'publicKey', label, keyType: c.keyType });
    expect(publicKey.spki().equals((await session.publicKey(pub)).spki())).toBe(true);
    if (c.bits) expect(publicKey.jwk().e).toBe('AQAB'); // 65537
  });

  it('keeps the private half sensitive, non-extractable and sign-only', async () => {
    const { privateKey } = generated.get(c.type)!;
    const a = pkcs11js;
    expect(await attributes(privateKey, [a.CKA_KEY_TYPE, a.CKA_TOKEN, a.CKA_PRIVATE, a.CKA_SENSITIVE, a.CKA_ALWAYS_SENSITIVE, a.CKA_EXTRACTABLE, a.CKA_NEVER_EXTRACTABLE, a.CKA_LOCAL])).toEqual([
      c.ckk, 1, 1, 1, 1, 0, 1, 1,
    ]);
    expect(await attributes(privateKey, [a.CKA_SIGN, a.CKA_DECRYPT, a.CKA_UNWRAP, a.CKA_DERIVE])).toEqual([1, 0, 0, 0]);
    // The key material itself cannot be read.
    const secret = c.keyType === 'rsa' ? a.CKA_PRIVATE_EXPONENT : a.CKA_VALUE;
    expect(await failure(attributes(privateKey, [secret]))).toMatchObject({ code: 'ERR_PKCS11', rvName: 'CKR_ATTRIBUTE_SENSITIVE' });
  });

  it('signs, and node:crypto verifies against the SPKI read off the token', async () => {
    const { privateKey, publicKey } = generated.get(c.type)!;
    const key = createPublicKey({ key: publicKey.spki(), format: 'der', type: 'spki' });
    const challenge = randomBytes(48);
    const signature = await session.signChallenge(privateKey, challenge);
    expect(verify(c.hash, challenge, { key, dsaEncoding: 'ieee-p1363' }, signature)).toBe(true);
    expect(verify(c.hash, randomBytes(48), { key, dsaEncoding: 'ieee-p1363' }, signature)).toBe(false);
    if (c.keyType === 'ec') {
      const der = await session.signChallenge(privateKey, challenge, { format: 'der' });
      expect(verify(c.hash, challenge, key, der)).toBe(true); // node's default: DER, as OpenSSL
    }
    if (c.keyType === 'rsa') {
      const pss = await session.signChallenge(privateKey, challenge, { algorithm: 'RSA-PSS-SHA256' });
      expect(verify('sha256', challenge, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, pss)).toBe(true);
    }
  });

  it('makes the public half a public, verify-only token object', async () => {
    const pub = await session.findPublicKey({ id: generated.get(c.type)!.privateKey.id });
    const a = pkcs11js;
    expect(await attributes(pub, [a.CKA_TOKEN, a.CKA_PRIVATE, a.CKA_VERIFY, a.CKA_ENCRYPT, a.CKA_WRAP])).toEqual([1, 0, 1, 0, 0]);
  });
});

describe('options', () => {
  it('uses the id given', async () => {
    const id = Buffer.from('c0ffee01', 'hex');
    const { privateKey } = await session.generateKeyPair({ type: 'ec-p256', label: 'given-id', id });
    expect(privateKey.id.equals(id)).toBe(true);
    expect((await session.findPrivateKey({ id: 'c0ffee01' })).label).toBe('given-id');
    expect((await session.findPublicKey({ id })).label).toBe('given-id');
  });

  it('rejects bad options before touching the token', async () => {
    const before = (await session.listKeys('privateKey')).length;
    const bad: unknown[] = [
      undefined,
      { type: 'dsa-1024', label: 'x' },
      { type: 'ec-p256' },
      { type: 'ec-p256', label: '' },
      { type: 'ec-p256', label: 'x', id: new Uint8Array(0) },
      { type: 'ec-p256', label: 'x', id: 'c0ffee' },
    ];
    for (const options of bad) {
      expect(await failure(session.generateKeyPair(options as Parameters<Session['generateKeyPair']>[0]))).toMatchObject({ code: 'ERR_INVALID_ARGUMENT' });
    }
    expect((await session.listKeys('privateKey')).length).toBe(before);
  });

  it('runs off the event loop: the loop turns while an RSA-3072 key is generated', async () => {
    let done = false;
    const pending = session.generateKeyPair({ type: 'rsa-3072', label: 'loop-check' }).finally(() => {
      done = true;
    });
    let turns = 0;
    await new Promise<void>((resolve) => {
      const turn = (): void => {
        if (done) return resolve();
        turns += 1;
        setImmediate(turn);
      };
      setImmediate(turn);
    });
    expect((await pending).privateKey.modulusBits).toBe(3072);
    expect(turns).toBeGreaterThan(0);
  });
});

describe('refusals', () => {
  it('a read-only session: ERR_SESSION_READ_ONLY, even logged in', async () => {
    await using ro = await token.openSession();
    expect(await ro.isLoggedIn()).toBe(true); // the login is the application's
    expect(await failure(ro.generateKeyPair({ type: 'ec-p256', label: 'ro' }))).toMatchObject({ code: 'ERR_SESSION_READ_ONLY' });
  });

  it('no user login: ERR_NOT_LOGGED_IN, also when the SO is logged in', async () => {
    await session.logout();
    try {
      expect(await failure(session.generateKeyPair({ type: 'ec-p256', label: 'anon' }))).toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
      await session.login(hsm.current.tokens[0]!.soPin, { userType: 'so' });
      expect(await failure(session.generateKeyPair({ type: 'ec-p256', label: 'so' }))).toMatchObject({ code: 'ERR_NOT_LOGGED_IN' });
      await session.logout();
    } finally {
      await session.login(userPin());
    }
    const labels = (await session.listKeys('privateKey')).map((k) => k.label);
    expect(labels).not.toContain('anon');
    expect(labels).not.toContain('so');
  });
});

interface ToolObject {
  cls: string;
  type: string;
  label: string;
  id: string;
  usage: string;
  access: string;
}

/** `pkcs11-tool --list-objects`, parsed into one record per object. */
function pkcs11ToolObjects(): ToolObject[] {
  const fx = hsm.current;
  const out = execFileSync('pkcs11-tool', ['--module', fx.modulePath, '--token-label', 'keygen', '--login', '--pin', userPin(), '--list-objects'], {
    env: { ...process.env, ...fx.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
  const objects: ToolObject[] = [];
  for (const line of out.split('\n')) {
    const head = /^(Private Key|Public Key|Certificate) Object; (\S+)/u.exec(line);
    if (head) {
      objects.push({ cls: head[1]!, type: head[2]!, label: '', id: '', usage: '', access: '' });
      continue;
    }
    const field = /^\s+(label|ID|Usage|Access):\s+(.*)$/u.exec(line);
    const current = objects.at(-1);
    if (field && current) current[field[1]!.toLowerCase() as 'label' | 'id' | 'usage' | 'access'] = field[2]!.trim();
  }
  return objects;
}

/** graphene-pk11 in this process: class, key type, sensitivity and extractability of every object. */
function grapheneObjects(): Array<{ cls: number; label: string; id: string; keyType: number; sensitive?: boolean; extractable?: boolean; valueReadable?: boolean }> {
  const gmod = Module.load(hsm.current.modulePath, 'softhsm');
  gmod.initialize(); // already initialised by us: graphene accepts that, and must not finalize
  try {
    const slot = Array.from({ length: gmod.getSlots(true).length }, (_, i) => gmod.getSlots(true).items(i)).find(
      (s) => s.getToken().serialNumber.trim() === token.serial,
    )!;
    const gs = slot.open(SessionFlag.SERIAL_SESSION);
    try {
      const found = gs.find();
      return Array.from({ length: found.length }, (_, i) => found.items(i)).map((o: SessionObject) => {
        const cls = o.getAttribute(pkcs11js.CKA_CLASS).readUInt32LE(0);
        const base = { cls, label: o.getAttribute(pkcs11js.CKA_LABEL).toString('utf8'), id: o.getAttribute(pkcs11js.CKA_ID).toString('hex'), keyType: o.getAttribute(pkcs11js.CKA_KEY_TYPE).readUInt32LE(0) };
        if (cls !== pkcs11js.CKO_PRIVATE_KEY) return base;
        let valueReadable = true;
        try {
          o.getAttribute(base.keyType === pkcs11js.CKK_RSA ? pkcs11js.CKA_PRIVATE_EXPONENT : pkcs11js.CKA_VALUE);
        } catch {
          valueReadable = false;
        }
        return { ...base, sensitive: o.getAttribute(pkcs11js.CKA_SENSITIVE)[0] === 1, extractable: o.getAttribute(pkcs11js.CKA_EXTRACTABLE)[0] === 1, valueReadable };
      });
    } finally {
      gs.close();
    }
  } finally {
    gmod.close();
  }
}

describe('what other readers see', () => {
  it('pkcs11-tool lists every generated key with its label, id, type, usage and access', () => {
    const objects = pkcs11ToolObjects();
    for (const c of CASES) {
      const { privateKey } = generated.get(c.type)!;
      const id = privateKey.id.toString('hex');
      const mine = objects.filter((o) => o.id === id);
      expect(mine.map((o) => `${o.cls}|${o.type}|${o.label}`).sort()).toEqual([`Private Key|${c.toolType}|gen-${c.type}`, `Public Key|${c.toolType}|gen-${c.type}`]);
      const priv = mine.find((o) => o.cls === 'Private Key')!;
      expect(priv.usage).toBe('sign');
      expect(priv.access.split(', ').sort()).toEqual(['always sensitive', 'local', 'never extractable', 'sensitive']);
      expect(mine.find((o) => o.cls === 'Public Key')!.usage).toBe('verify');
    }
  });

  it('pkcs11-tool and graphene-pk11 list the same objects as the library', async () => {
    const library = [
      ...(await session.listKeys('privateKey')).map((k) => `privateKey ${k.label} ${k.id.toString('hex')}`),
      ...(await session.listKeys('publicKey')).map((k) => `publicKey ${k.label} ${k.id.toString('hex')}`),
    ].sort();
    expect(library).toHaveLength(2 * (CASES.length + 2)); // + given-id, loop-check
    expect(objectsByPkcs11Tool(hsm.current, 'keygen', userPin())).toEqual(library);
    expect(objectsByGraphene(hsm.current.modulePath, token.serial)).toEqual(library);
  });

  it('graphene-pk11 reads the key types and finds the private halves sensitive and not extractable', () => {
    const objects = grapheneObjects();
    for (const c of CASES) {
      const id = generated.get(c.type)!.privateKey.id.toString('hex');
      const priv = objects.find((o) => o.id === id && o.cls === pkcs11js.CKO_PRIVATE_KEY);
      const pub = objects.find((o) => o.id === id && o.cls === pkcs11js.CKO_PUBLIC_KEY);
      expect(priv).toEqual({ cls: pkcs11js.CKO_PRIVATE_KEY, label: `gen-${c.type}`, id, keyType: c.ckk, sensitive: true, extractable: false, valueReadable: false });
      expect(pub).toEqual({ cls: pkcs11js.CKO_PUBLIC_KEY, label: `gen-${c.type}`, id, keyType: c.ckk });
    }
  });
});
