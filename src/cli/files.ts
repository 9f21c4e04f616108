// Files named on the command line: a missing or unreadable one, or a "certificate" that is not
// one, is a sentence naming the option and the file, not a bare ENOENT or a parser's complaint.
import { readFileSync } from 'node:fs';
import { X509Certificate } from '../algorithms/x509.js';
import { UsageError } from './exit-codes.js';

const WHY: Record<string, string> = { ENOENT: 'no such file', EACCES: 'permission denied', EISDIR: 'it is a directory' };

export function readInput(option: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new UsageError(`cannot read ${option} ${path}: ${WHY[code] ?? code}`);
  }
}

/** An X.509 certificate from a PEM or DER file. */
export function readCertificateFile(option: string, path: string): X509Certificate {
  const raw = readInput(option, path);
  try {
    return new X509Certificate(raw.includes('-----BEGIN') ? raw.toString('utf8') : raw);
  } catch {
    throw new UsageError(`${option} ${path} is not an X.509 certificate (PEM or DER); tokengate export --key … --cert writes one`);
  }
}
