// New passwords for `user add` and `user reset-password`: from TOKENGATE_PASSWORD, or a masked
// prompt (@inquirer/prompts) on a terminal; never from the command line, where it would land in
// the shell history and in `ps`.
import { password } from '@inquirer/prompts';
import { timingSafeEqual } from 'node:crypto';
import { UsageError } from '../exit-codes.js';

export async function newPassword(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.TOKENGATE_PASSWORD) return env.TOKENGATE_PASSWORD;
  if (!process.stdin.isTTY) throw new UsageError('no password: set TOKENGATE_PASSWORD or run on a terminal to be asked');
  // Masked, with no key that reveals it (an admin may be sharing a screen).
  const first = await password({ message: 'New password', mask: '*', toggleMask: false });
  const again = await password({ message: 'Again', mask: '*', toggleMask: false });
  const [a, b] = [Buffer.from(first, 'utf8'), Buffer.from(again, 'utf8')];
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw new UsageError('the two passwords differ');
  return first;
}
