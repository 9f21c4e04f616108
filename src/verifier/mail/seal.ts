// Seals a queued mail's body (which may hold a new security token) with AES-256-GCM under the
// server secret's mail key, so the mail queue never holds a secret in clear.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { ServerSecret } from '../server-secret.js';

const VERSION = 1;

export function sealMailBody(secret: ServerSecret, text: string): Uint8Array {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', secret.key('mail-seal'), iv);
  const body = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.of(VERSION), iv, cipher.getAuthTag(), body]);
}

/** Throws when the body was sealed under another secret or altered. */
export function openMailBody(secret: ServerSecret, sealed: Uint8Array): string {
  const data = Buffer.from(sealed);
  if (data.length < 29 || data[0] !== VERSION) throw new Error('not a sealed mail body');
  const decipher = createDecipheriv('aes-256-gcm', secret.key('mail-seal'), data.subarray(1, 13));
  decipher.setAuthTag(data.subarray(13, 29));
  return Buffer.concat([decipher.update(data.subarray(29)), decipher.final()]).toString('utf8');
}
