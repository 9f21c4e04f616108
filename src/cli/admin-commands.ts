// The token administration commands: keygen, import-cert, enroll, change-pin, unblock-pin,
// init-token. Secrets come only from the environment, --pin-fd or a masked prompt (secrets.ts);
// every one goes through the token's counter, like a login.
import { writeFileSync } from 'node:fs';
import { readCertificateFile } from './files.js';
import { createCertificateRequest, createSelfSignedCertificate, type KeyPairType } from '../index.js';
import { enrollToken, VerifierClient } from '../client/index.js';
import { loginWithPin, refuseIfLocked, withFinalTry } from './final-try.js';
import { EXIT, UsageError } from './exit-codes.js';
import { readSecret } from './secrets.js';
import { openModule, selectKey, selectToken } from './select.js';
import type { TokenCommandOptions } from './token-commands.js';

export interface AdminCommandOptions extends TokenCommandOptions {
  type?: string | undefined;
  label?: string | undefined;
  subject?: string | undefined;
  with?: string | undefined;
  verifier?: string | undefined;
  username?: string | undefined;
  csr?: string | undefined;
}

const KEY_TYPES: readonly KeyPairType[] = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'ed25519'];

function keyType(value: string | undefined): KeyPairType {
  if (!KEY_TYPES.includes((value ?? 'ec-p256') as KeyPairType)) throw new UsageError(`--type: one of ${KEY_TYPES.join(', ')}`);
  return (value ?? 'ec-p256') as KeyPairType;
}

function print(json: boolean, data: unknown, text: string): void {
  console.log(json ? JSON.stringify(data, null, 2) : text);
}

/** The verifier client enroll needs, from its options and the environment; refused before the PIN is asked. */
function enrollClient(options: AdminCommandOptions): { verifier: VerifierClient; username: string; password: string | undefined } {
  if (!options.verifier || !options.username) throw new UsageError('enroll needs --verifier URL and --username NAME');
  const apiKey = process.env.TOKENGATE_API_KEY;
  const password = process.env.TOKENGATE_PASSWORD;
  if (!apiKey && !password) throw new UsageError('enroll needs TOKENGATE_API_KEY (an admin key) or TOKENGATE_PASSWORD (the user enrolls their own token)');
  return { verifier: new VerifierClient(options.verifier, apiKey ? { apiKey } : {}), username: options.username, password: apiKey ? undefined : password };
}

/** What the user's challenge policy means for a door kiosk, which sends no password. */
function policyAdvice(username: string, policy: string): string {
  if (policy === 'token-only') return `${username}'s challenge policy is token-only: the card and its PIN are enough at a kiosk.`;
  return `${username}'s challenge policy is ${policy}: a kiosk sends no password, so it will be refused. For a door, run: tokengate verifier policy set ${username} token-only (or a range: tokengate verifier policy range CIDR token-only)`;
}

export async function runAdminCommand(command: string, options: AdminCommandOptions): Promise<number> {
  const json = options.json === true;
  await using module = await openModule(options.module, { blank: command === 'init-token' });
  if (command === 'init-token') {
    if (!options.label) throw new UsageError('init-token needs --label');
    const soPin = await readSecret('so-pin');
    const userPin = await readSecret('new-pin');
    const token = module.initializeToken({ soPin, label: options.label });
    await using so = await token.openSession({ write: true });
    await so.login(soPin, { userType: 'so' }); // counted like any login
    await so.initUserPin(userPin);
    await so.logout();
    print(json, { label: token.label, serial: token.serial }, `initialised "${token.label}" ${token.serial}: SO PIN and user PIN set`);
    return EXIT.ok;
  }
  const token = selectToken(module, options.token);
  switch (command) {
    case 'change-pin': {
      refuseIfLocked(token);
      const oldPin = await readSecret('pin', { pinFd: options['pin-fd'] });
      const newPin = await readSecret('new-pin');
      await withFinalTry(options, (allowFinalTry) => token.changePin(oldPin, newPin, { allowFinalTry }));
      print(json, { ok: true }, `PIN of "${token.label}" changed`);
      return EXIT.ok;
    }
    case 'unblock-pin': {
      // The secret the token has picks the way: a card's PUK, or a software token's SO PIN.
      const by = options.with ?? (process.env.TOKENGATE_PUK ? 'puk' : process.env.TOKENGATE_SO_PIN ? 'so-pin' : token.unblockSecret === 'puk' ? 'puk' : 'so-pin');
      if (by !== 'puk' && by !== 'so-pin') throw new UsageError('--with puk or --with so-pin');
      const secret = await readSecret(by);
      const newPin = await readSecret('new-pin');
      await withFinalTry(options, (allowFinalTry) =>
        token.unblockPin(by === 'puk' ? { puk: secret, newPin, allowFinalTry } : { soPin: secret, newPin, allowFinalTry }),
      );
      print(json, { ok: true }, `PIN of "${token.label}" unblocked and set`);
      return EXIT.ok;
    }
    case 'keygen':
    case 'import-cert':
    case 'enroll': {
      // What can be checked without the token is checked before anyone is asked for a PIN.
      const client = command === 'enroll' ? enrollClient(options) : undefined;
      await using session = await token.openSession({ write: true });
      await loginWithPin(session, options);
      try {
        if (command === 'keygen') {
          if (!options.label) throw new UsageError('keygen needs --label');
          const { privateKey } = await session.generateKeyPair({ type: keyType(options.type), label: options.label });
          if (options.csr) {
            // A PKCS#10 request signed on the token, for a CA to answer (then: import-cert).
            const request = await createCertificateRequest(session, privateKey, { subject: options.subject ?? `CN=${options.label}` });
            writeFileSync(options.csr, request.toString('pem'));
          } else if (options.subject) {
            const certificate = await createSelfSignedCertificate(session, privateKey, { subject: options.subject });
            await session.importCertificate(certificate, { label: options.label, id: privateKey.id });
          }
          const id = Buffer.from(privateKey.id).toString('hex');
          const made = options.csr ? `, certificate request in ${options.csr}` : options.subject ? ' with a self-signed certificate' : '';
          print(json, { label: options.label, id, keyType: privateKey.keyType, certificate: !options.csr && options.subject !== undefined, csr: options.csr }, `generated ${keyType(options.type)} key "${options.label}" (id ${id})${made}`);
          return EXIT.ok;
        }
        if (command === 'import-cert') {
          if (!options.in) throw new UsageError('import-cert needs --in FILE (PEM or DER)');
          const certificate = readCertificateFile('--in', options.in);
          const key = await selectKey(session, options.key);
          await session.importCertificate(certificate, { label: options.label ?? key.label, id: key.id });
          print(json, { subject: certificate.subject, key: key.label }, `imported "${certificate.subject}" next to key "${key.label}"`);
          return EXIT.ok;
        }
        // enroll: an existing key (--key) or a new one (--type, --subject), registered with the verifier.
        const { verifier, password, username } = client!;
        const key = options.key
          ? { existing: await selectKey(session, options.key) }
          : { generate: { type: keyType(options.type), label: options.label ?? 'tokengate' }, subject: options.subject ?? `CN=${username}` };
        const { credential } = await enrollToken(verifier, session, { username, key, serial: token.serial, ...(password ? { password } : {}) });
        print(json, credential, `enrolled "${token.label}" (${credential.keyType}) for ${credential.username}: credential ${credential.id}\n${policyAdvice(credential.username, credential.challengePolicy)}`);
        return EXIT.ok;
      } finally {
        await session.logout().catch(() => {});
      }
    }
    default:
      throw new UsageError(`unknown command "${command}" (see tokengate --help)`);
  }
}
