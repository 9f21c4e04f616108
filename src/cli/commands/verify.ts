// `tokengate verify`: a signature checked against a certificate (a file, or the token's: no PIN).
// Exit 0 valid, 7 not valid.
import { Option } from 'commander';
import { verifySignature, type SignatureFormat } from '../../index.js';
import type { X509Certificate } from '../../algorithms/x509.js';
import { classifyKey } from '../../verifier/credentials/key-algorithm.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { readCertificateFile, readInput } from '../files.js';
import { selectCertificate, withToken } from '../select.js';
import { printResult } from '../table.js';
import { keyOption, tokenOptions, type KeyOptions, type TokenOptions } from './options.js';
import { mechanismOption, type SignatureOptions } from './sign.js';

interface VerifyOptions extends TokenOptions, KeyOptions, SignatureOptions {
  in: string;
  signature: string;
  cert?: string | undefined;
}

async function certificateFor(options: VerifyOptions): Promise<X509Certificate> {
  if (options.cert) return readCertificateFile('--cert', options.cert);
  return withToken(options, async (token) => {
    await using session = await token.openSession();
    return (await selectCertificate(session, options.key)).certificate;
  });
}

export function verifyCommand() {
  const command = defineCommand(
    'verify',
    'Checks a signature against a certificate (a file, or the token\'s)',
    "Checks a signature against a certificate (a file, or the token's). Exit 0 valid, 7 not valid. Without --format an ECDSA signature is taken as raw or DER, whichever it is.",
  )
    .requiredOption('--in <FILE>', 'what was signed')
    .requiredOption('--signature <FILE>', 'the signature')
    .option('--cert <FILE>', "the signer's certificate, PEM or DER (default: the token's, by --key)");
  keyOption(tokenOptions(command), 'the first certificate')
    .addOption(new Option('--format <FORMAT>', 'ECDSA: raw r||s or DER (default: whichever it is)').choices(['raw', 'der']))
    .addOption(mechanismOption());
  return command.action(
    exitsWith(async (options: VerifyOptions) => {
      const data = readInput('--in', options.in);
      const signature = readInput('--signature', options.signature);
      const given = options.format;
      const certificate = await certificateFor(options);
      // The certificate's key decides the default: ECDSA with its curve's hash, RSA PKCS#1 v1.5, Ed25519.
      const info = classifyKey(Buffer.from(certificate.publicKey.rawData));
      const algorithm = options.mechanism ?? ('refusal' in info ? undefined : info.algorithms[0]);
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
      printResult(options.json, { valid: ok, algorithm, format }, ok ? `signature valid (${algorithm}, ${format})` : `signature NOT valid${hint}`);
      return ok ? EXIT.ok : EXIT.verificationFailed;
    }),
  );
}
