// PINs for the token commands: from the environment (TOKENGATE_PIN, TOKENGATE_SO_PIN,
// TOKENGATE_PUK, TOKENGATE_NEW_PIN), from a file descriptor (--pin-fd N: one line), or from a
// masked prompt on a terminal. Never from the command line, where it would land in the shell's
// history and in `ps` for everyone on the machine to read.
import { confirm, password } from '@inquirer/prompts';
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Pin } from '../index.js';
import { UsageError } from './exit-codes.js';

export type SecretKind = 'pin' | 'so-pin' | 'puk' | 'new-pin';

const ENV: Record<SecretKind, string> = { pin: 'TOKENGATE_PIN', 'so-pin': 'TOKENGATE_SO_PIN', puk: 'TOKENGATE_PUK', 'new-pin': 'TOKENGATE_NEW_PIN' };
const PROMPT: Record<SecretKind, string> = { pin: 'PIN', 'so-pin': 'SO PIN', puk: 'PUK', 'new-pin': 'New PIN' };

export const ON_COMMAND_LINE =
  'a PIN on the command line would land in the shell history and in `ps`: use TOKENGATE_PIN (TOKENGATE_SO_PIN, TOKENGATE_PUK, TOKENGATE_NEW_PIN), --pin-fd N, or the prompt';

/** The secret as a `Pin` (never printed), from the first source that has one. */
export async function readSecret(kind: SecretKind, options: { pinFd?: string | undefined } = {}, env: NodeJS.ProcessEnv = process.env): Promise<Pin> {
  return Pin.from(await readSecretText(kind, options, env), PROMPT[kind]);
}

async function readSecretText(kind: SecretKind, options: { pinFd?: string | undefined }, env: NodeJS.ProcessEnv): Promise<string> {
  const fromEnv = env[ENV[kind]];
  if (fromEnv) return fromEnv;
  if (options.pinFd !== undefined && kind === 'pin') {
    const fd = Number(options.pinFd);
    if (!Number.isInteger(fd) || fd < 0) throw new UsageError('--pin-fd takes a file descriptor number');
    return readFileSync(fd, 'utf8').split(/\r?\n/)[0] ?? '';
  }
  if (!process.stdin.isTTY) throw new UsageError(`no ${PROMPT[kind]}: set ${ENV[kind]}${kind === 'pin' ? ' or pass --pin-fd N' : ''}, or run on a terminal to be asked`);
  // Masked, and no ctrl+t to reveal it: someone may be looking over the shoulder.
  const secret = await password({ message: `${PROMPT[kind]}:`, mask: '*', toggleMask: false });
  if (kind === 'new-pin') {
    // A typo in a new PIN would lock its owner out: typed twice, and they must agree.
    const again = await password({ message: `${PROMPT[kind]} again:`, mask: '*', toggleMask: false });
    if (!sameSecret(again, secret)) throw new UsageError('the two new PINs differ: nothing was changed');
  }
  return secret;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** On a terminal, asks before the last try; elsewhere the caller must have said --allow-final-try. */
export async function confirmFinalTry(allowed: boolean): Promise<boolean> {
  if (allowed) return true;
  if (!process.stdin.isTTY) return false;
  return confirm({ message: 'One try is left: a wrong PIN now locks the token. Go on?', default: false });
}
