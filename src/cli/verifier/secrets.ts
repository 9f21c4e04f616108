// New passwords for `user add` and `user reset-password`: from TOKENGATE_PASSWORD, or a masked
// prompt (@inquirer/prompts) on a terminal; never from the command line, where it would land in
// the shell history and in `ps`.
import { password } from '@inquirer/prompts';

export class SecretInputError extends TypeError {}

export async function newPassword(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.TOKENGATE_PASSWORD) return env.TOKENGATE_PASSWORD;
  if (!process.stdin.isTTY) throw new SecretInputError('no password: set TOKENGATE_PASSWORD or run on a terminal to be asked');
  const first = await password({ message: 'New password', mask: '*' });
  const again = await password({ message: 'Again', mask: '*' });
  if (first !== again) throw new SecretInputError('the two passwords differ');
  return first;
}
