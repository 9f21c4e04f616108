// A security key's PIN for a command: unlocked with the PIN from TOKENGATE_PIN, --pin-fd or the
// masked prompt; the key's last retry is spent only after a yes on the terminal or
// --allow-final-try, through the same withFinalTry as the PKCS#11 commands.
import type { SecurityKey, TouchOptions } from '../../index.js';
import type { PinOptions } from '../commands/options.js';
import { withFinalTry } from '../final-try.js';
import { readSecret } from '../secrets.js';

export async function unlockKey(key: SecurityKey, options: PinOptions & { rp?: string | undefined }, touch: TouchOptions): Promise<void> {
  const pin = await readSecret('pin', { pinFd: options.pinFd });
  await withFinalTry(options, (allowFinalTry) => key.unlock(pin, { ...touch, allowFinalTry, ...(options.rp ? { rpId: options.rp } : {}) }));
}
