// Child process for the lockout race test: tries wrong PINs through one library path and prints
// what each attempt got, one line per attempt: the error code, with "+now" when this attempt was
// the one that locked the PIN. argv: modulePath serial stateDir attempts path(login|change-pin)
// It says "ready" on stdout once it has found the token, and starts on a line on stdin: SoftHSM
// rewrites a token's file when a PIN is wrong (CKF_USER_PIN_COUNT_LOW), and a process that scans
// the token directory at that moment may not see the token at all, so both racers find it first.
// The same rewrite makes SoftHSM 2.6 answer C_Login with CKR_GENERAL_ERROR before it checks the
// PIN (Token::loginUser reads the token's flags first): such an attempt tried no PIN, and the
// library counts no try without a verdict, so it is made again (within a deadline) until it gets one.
import { createInterface } from 'node:readline';
import { HostLockout, PinLockedError, Pkcs11Error, Pkcs11Module } from '../../src/index.js';

const [modulePath, serial, stateDir, attempts, path] = process.argv.slice(2) as [string, string, string, string, string];
using lockout = new HostLockout({ stateDir });
await using mod = await Pkcs11Module.load(modulePath, { loginGuard: lockout });
const token = mod.token({ serial });
console.log('ready');
for await (const _go of createInterface({ input: process.stdin })) break;
const lines: string[] = [];
async function attempt(): Promise<string> {
  try {
    if (path === 'change-pin') await token.changePin('000000', '999999', { allowFinalTry: true });
    else {
      await using session = await token.openSession();
      await session.login('000000', { allowFinalTry: true });
    }
    return 'OK';
  } catch (err) {
    if (err instanceof Pkcs11Error && err.rvName === 'CKR_GENERAL_ERROR') return 'NO_VERDICT';
    return `${(err as { code?: string }).code ?? 'UNKNOWN'}${err instanceof PinLockedError && err.lockedNow ? '+now' : ''}`;
  }
}
const deadline = Date.now() + 20_000;
for (let i = 0; i < Number(attempts); i++) {
  let outcome = await attempt();
  while (outcome === 'NO_VERDICT' && Date.now() < deadline) outcome = await attempt();
  lines.push(outcome);
}
console.log(lines.join('\n'));
