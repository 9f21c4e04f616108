// Child process for the lockout race test: tries wrong PINs through one library path and prints
// what each attempt got, one line per attempt: the error code, with "+now" when this attempt was
// the one that locked the PIN. argv: modulePath serial stateDir attempts path(login|change-pin)
// It says "ready" on stdout once it has found the token, and starts on a line on stdin: SoftHSM
// rewrites a token's file when a PIN is wrong (CKF_USER_PIN_COUNT_LOW), and a process that scans
// the token directory at that moment may not see the token at all, so both racers find it first.
import { createInterface } from 'node:readline';
import { HostLockout, PinLockedError, Pkcs11Module } from '../../src/index.js';

const [modulePath, serial, stateDir, attempts, path] = process.argv.slice(2) as [string, string, string, string, string];
using lockout = new HostLockout({ stateDir });
await using mod = await Pkcs11Module.load(modulePath, { loginGuard: lockout });
const token = mod.token({ serial });
console.log('ready');
for await (const _go of createInterface({ input: process.stdin })) break;
const lines: string[] = [];
for (let i = 0; i < Number(attempts); i++) {
  try {
    if (path === 'change-pin') await token.changePin('000000', '999999', { allowFinalTry: true });
    else {
      await using session = await token.openSession();
      await session.login('000000', { allowFinalTry: true });
    }
    lines.push('OK');
  } catch (err) {
    lines.push(`${(err as { code?: string }).code ?? 'UNKNOWN'}${err instanceof PinLockedError && err.lockedNow ? '+now' : ''}`);
  }
}
console.log(lines.join('\n'));
