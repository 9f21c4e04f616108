// The token commands: status, login, watch, sign, verify. Each works on one token (select.ts) and
// takes its PIN the safe ways only (secrets.ts); every PIN goes through the token's counter (the
// card's own, or the host's guard under the state directory for tokens that never lock).
import { writeFileSync } from 'node:fs';
import { readCertificateFile, readInput } from './files.js';
import { once } from 'node:events';
import {
  Blocklist,
  SIGNATURE_ALGORITHMS,
  defaultAlgorithm,
  verifySignature,
  type PinState,
  type SignatureAlgorithm,
  type SignatureFormat,
  type Token,
  type TokenEvent,
} from '../index.js';
import { X509Certificate } from '../algorithms/x509.js';
import { EXIT, UsageError } from './exit-codes.js';
import { loginWithPin } from './final-try.js';
import { openModule, selectCertificate, selectKey, selectToken } from './select.js';
import { classifyKey } from '../verifier/credentials/key-algorithm.js';

export interface TokenCommandOptions {
  module?: string | undefined;
  token?: string | undefined;
  key?: string | undefined;
  json?: boolean | undefined;
  'pin-fd'?: string | undefined;
  'allow-final-try'?: boolean | undefined;
  blocklist?: string | undefined;
  in?: string | undefined;
  out?: string | undefined;
  signature?: string | undefined;
  cert?: string | undefined;
  format?: string | undefined;
  mechanism?: string | undefined;
}

function print(json: boolean, data: unknown, text: string): void {
  console.log(json ? JSON.stringify(data, null, 2) : text);
}

function algorithmOf(value: string | undefined): SignatureAlgorithm | undefined {
  if (value === undefined) return undefined;
  if (!SIGNATURE_ALGORITHMS.includes(value as SignatureAlgorithm)) throw new UsageError(`--mechanism: one of ${SIGNATURE_ALGORITHMS.join(', ')}`);
  return value as SignatureAlgorithm;
}

function formatOf(value: string | undefined): SignatureFormat {
  if (value === undefined || value === 'raw' || value === 'der') return value ?? 'raw';
  throw new UsageError('--format: raw or der');
}

async function withToken<T>(options: TokenCommandOptions, body: (token: Token, admission: Blocklist | undefined) => Promise<T>): Promise<T> {
  await using module = await openModule(options.module);
  const blocklist = options.blocklist ? await Blocklist.fromFile(options.blocklist) : undefined;
  // Awaited here: `using` must not close the module before the body is done.
  return await body(selectToken(module, options.token), blocklist);
}

async function listCertificates(token: Token) {
  await using session = await token.openSession();
  return session.listCertificates();
}

/** "ok (2 left, counted by the host)", "locked (counted by the card)", "tries left not reported by the card". */
function describeState(state: PinState): string {
  const by = state.source === 'host' ? 'the host' : 'the card';
  if (state.pinStatus === 'unknown') return `tries left not reported by ${by}`;
  const left = state.retriesLeft === undefined ? '' : `${state.retriesLeft} left, `;
  return `${state.pinStatus} (${left}counted by ${by})`;
}

export async function runTokenCommand(command: string, options: TokenCommandOptions): Promise<number> {
  const json = options.json === true;
  switch (command) {
    case 'status':
      return withToken(options, async (token, blocklist) => {
        const info = token.info();
        const pin = token.pinState('user', info);
        // Only the secret this token has: a card's PUK, a software token's SO PIN.
        const unblock = token.pinState(token.unblockSecret, info);
        const blocked = blocklist?.isBlocked({ serial: token.serial, certificates: (await listCertificates(token)).map((c) => c.certificate) });
        const unblockName = token.unblockSecret === 'puk' ? 'PUK' : 'SO PIN';
        const data = {
          label: info.label,
          serial: info.serial,
          model: info.model,
          countedBy: token.pinCountedBy,
          pin,
          [token.unblockSecret === 'puk' ? 'puk' : 'soPin']: unblock,
          ...(blocked === undefined ? {} : { blocked }),
        };
        print(json, data, `"${info.label}" ${info.serial}  PIN: ${describeState(pin)}  ${unblockName}: ${describeState(unblock)}${blocked ? '  BLOCKED' : ''}`);
        return blocked ? EXIT.tokenBlocked : EXIT.ok;
      });
    case 'login':
      return withToken(options, async (token, admission) => {
        await using session = await token.openSession(admission ? { admission } : {});
        await loginWithPin(session, options);
        await session.logout();
        print(json, { ok: true, serial: token.serial }, `PIN accepted by "${token.label}"`);
        return EXIT.ok;
      });
    case 'sign':
      return withToken(options, async (token, admission) => {
        if (!options.in || !options.out) throw new UsageError('sign needs --in FILE and --out FILE');
        const data = readInput('--in', options.in);
        await using session = await token.openSession(admission ? { admission } : {});
        await loginWithPin(session, options);
        const key = await selectKey(session, options.key);
        const algorithm = algorithmOf(options.mechanism) ?? defaultAlgorithm(key);
        const format = formatOf(options.format);
        const signature = await session.signChallenge(key, data, { algorithm, format });
        writeFileSync(options.out, signature);
        await session.logout();
        print(json, { algorithm, format, bytes: signature.length, key: key.label }, `signed ${data.length} bytes with "${key.label}" (${algorithm}, ${format}): ${options.out}`);
        return EXIT.ok;
      });
    case 'verify': {
      if (!options.in || !options.signature) throw new UsageError('verify needs --in FILE and --signature FILE (and --cert FILE, or a token holding the certificate)');
      const data = readInput('--in', options.in);
      const signature = readInput('--signature', options.signature);
      const given = options.format === undefined ? undefined : formatOf(options.format);
      let certificate: X509Certificate;
      let algorithm = algorithmOf(options.mechanism);
      if (options.cert) {
        certificate = readCertificateFile('--cert', options.cert);
      } else {
        certificate = await withToken(options, async (token) => {
          await using session = await token.openSession();
          return (await selectCertificate(session, options.key)).certificate;
        });
      }
      // The certificate's key decides the default: ECDSA with its curve's hash, RSA PKCS#1 v1.5, Ed25519.
      const info = classifyKey(Buffer.from(certificate.publicKey.rawData));
      algorithm ??= 'refusal' in info ? undefined : info.algorithms[0];
      if (!algorithm) throw new UsageError('this key type needs --mechanism');
      const valid = (f: SignatureFormat): boolean => {
        try {
          return verifySignature(certificate, data, signature, { algorithm, format: f });
        } catch {
          return false; // not even shaped like a signature of this kind
        }
      };
      // ECDSA comes raw (r||s) or DER (what openssl writes): without --format, either is taken.
      const ecdsa = algorithm.startsWith('ECDSA');
      let format: SignatureFormat = given ?? 'raw';
      let ok = valid(format);
      if (!ok && ecdsa && given === undefined && valid('der')) [ok, format] = [true, 'der'];
      const other: SignatureFormat = format === 'raw' ? 'der' : 'raw';
      const hint = !ok && ecdsa && given !== undefined && valid(other) ? ` as ${format} — it is a valid ${other} signature: pass --format ${other}` : '';
      print(json, { valid: ok, algorithm, format }, ok ? `signature valid (${algorithm}, ${format})` : `signature NOT valid${hint}`);
      return ok ? EXIT.ok : EXIT.verificationFailed;
    }
    case 'watch': {
      await using module = await openModule(options.module);
      // The tokens already there come first, as `inserted`: the stream starts from what is present.
      const watcher = module.watch({ intervalMs: 250, emitInitial: true });
      // One line per event, also with --json (a stream a script reads line by line).
      const show = (event: TokenEvent) =>
        console.log(json ? JSON.stringify({ type: event.type, label: event.token.label, serial: event.token.serial }) : `${event.type.padEnd(8)} "${event.token.label}" ${event.token.serial}`);
      watcher.on('event', show);
      if (!json) console.log('watching for tokens (Ctrl-C stops)');
      await Promise.race([once(process, 'SIGINT'), once(process, 'SIGTERM')]);
      watcher.close();
      return EXIT.ok;
    }
    default:
      throw new UsageError(`unknown command "${command}" (see tokengate --help)`);
  }
}
