// Child process for the lockout race test: tries wrong PINs through HostLockout and prints what
// each attempt got, one error code per line. argv: modulePath serial stateDir attempts
import { HostLockout, Pkcs11Module } from '../../src/index.js';

const [modulePath, serial, stateDir, attempts] = process.argv.slice(2) as [string, string, string, string];
await using mod = await Pkcs11Module.load(modulePath);
const lockout = new HostLockout({ stateDir });
const token = mod.token({ serial });
const codes: string[] = [];
for (let i = 0; i < Number(attempts); i++) {
  await using session = await token.openSession();
  try {
    await lockout.login(session, '000000', { allowFinalTry: true });
    codes.push('OK');
  } catch (err) {
    codes.push((err as { code?: string }).code ?? 'UNKNOWN');
  }
}
lockout.close();
console.log(codes.join('\n'));
