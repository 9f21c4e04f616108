// An isolated SoftHSM2: its own configuration and token directory under a temp (or given)
// directory, never ~/.config/softhsm2. Tokens are initialised with known PINs and provisioned
// with EC P-256, EC P-384, RSA-2048 and Ed25519 keys and matching self-signed certificates.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Pkcs11Js from 'pkcs11js';
import { DEFAULT_KEYS, generateKey, type FixtureKeySpec, type GeneratedKey } from './keys.js';
import { certificateTemplate, keyTemplates } from './templates.js';

const require = createRequire(import.meta.url);
const p: typeof Pkcs11Js = require('pkcs11js');

const MODULE_CANDIDATES = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

export function softHsmModulePath(): string {
  const fromEnv = process.env.SOFTHSM2_MODULE;
  if (fromEnv) return fromEnv;
  const found = MODULE_CANDIDATES.find((c) => existsSync(c));
  if (!found) throw new Error('SoftHSM2 is not installed (apt-get install softhsm2)');
  return found;
}

export interface FixtureTokenSpec {
  label: string;
  userPin?: string;
  soPin?: string;
  /** Keys to provision; defaults to one of each type. Pass [] for an empty token. */
  keys?: readonly FixtureKeySpec[];
}

export interface FixtureToken {
  label: string;
  serial: string;
  userPin: string;
  soPin: string;
  keys: GeneratedKey[];
}

export interface SoftHsmFixture {
  dir: string;
  conf: string;
  modulePath: string;
  tokens: FixtureToken[];
  /** Environment a child process needs to see these tokens. */
  env: { SOFTHSM2_CONF: string };
  cleanup(): void;
}

export const DEFAULT_USER_PIN = '123456';
export const DEFAULT_SO_PIN = '12345678';

export interface SoftHsmOptions {
  /** Directory to hold the configuration and tokens; a fresh temp dir by default. It is emptied first. */
  dir?: string;
  tokens?: FixtureTokenSpec[];
}

function withModule<T>(modulePath: string, body: (lib: Pkcs11Js.PKCS11) => T): T {
  const lib = new p.PKCS11();
  lib.load(modulePath);
  let owns = true;
  try {
    lib.C_Initialize();
  } catch (err) {
    // Someone in this process already uses the module: provisioning must not finalize it for them.
    if ((err as { code?: number }).code !== p.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw err;
    owns = false;
  }
  try {
    return body(lib);
  } finally {
    if (owns) lib.C_Finalize();
    lib.close();
  }
}

function provisionToken(lib: Pkcs11Js.PKCS11, label: string, soPin: string, userPin: string, keys: GeneratedKey[]): string {
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === label);
  if (!slot) throw new Error(`fixture token ${label} did not appear`);
  const serial = lib.C_GetTokenInfo(slot).serialNumber.trim();
  const session = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION);
  try {
    lib.C_Login(session, p.CKU_SO, soPin);
    lib.C_InitPIN(session, userPin);
    lib.C_Logout(session);
    if (keys.length > 0) {
      lib.C_Login(session, p.CKU_USER, userPin);
      for (const key of keys) {
        const { priv, pub } = keyTemplates(key);
        lib.C_CreateObject(session, priv);
        lib.C_CreateObject(session, pub);
        lib.C_CreateObject(session, certificateTemplate(key));
      }
      lib.C_Logout(session);
    }
  } finally {
    lib.C_CloseSession(session);
  }
  return serial;
}

export async function createSoftHsm(options: SoftHsmOptions = {}): Promise<SoftHsmFixture> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'tokengate-softhsm-'));
  rmSync(dir, { recursive: true, force: true });
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`);
  const env = { SOFTHSM2_CONF: conf };
  const modulePath = softHsmModulePath();
  const specs = options.tokens ?? [{ label: 'tokengate-test' }];

  const generated = await Promise.all(
    specs.map(async (spec) => Promise.all((spec.keys ?? DEFAULT_KEYS).map((k) => generateKey(k, spec.label)))),
  );
  for (const spec of specs) {
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', spec.label, '--so-pin', spec.soPin ?? DEFAULT_SO_PIN, '--pin', spec.userPin ?? DEFAULT_USER_PIN], {
      env: { ...process.env, ...env },
      stdio: 'ignore',
    });
  }
  process.env.SOFTHSM2_CONF = conf;
  const tokens = withModule(modulePath, (lib) =>
    specs.map((spec, i) => {
      const userPin = spec.userPin ?? DEFAULT_USER_PIN;
      const soPin = spec.soPin ?? DEFAULT_SO_PIN;
      const keys = generated[i]!;
      return { label: spec.label, serial: provisionToken(lib, spec.label, soPin, userPin, keys), userPin, soPin, keys };
    }),
  );
  return { dir, conf, modulePath, tokens, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
