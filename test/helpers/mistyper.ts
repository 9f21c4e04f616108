// Child process for test/select-rewrite.test.ts: types wrong PINs into a SoftHSM token through
// plain pkcs11js (no guard: SoftHSM never locks), so that SoftHSM rewrites the token's file over
// and over (CKF_USER_PIN_COUNT_LOW). argv: modulePath label. Says "typing" once it has begun, and
// stops on a line on stdin (or when stdin closes), printing how many wrong PINs it typed.
import { createInterface } from 'node:readline';
import pkcs11js from 'pkcs11js';

const [modulePath, label] = process.argv.slice(2) as [string, string];
const lib = new pkcs11js.PKCS11();
lib.load(modulePath);
lib.C_Initialize();
const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === label);
if (!slot) throw new Error(`no token ${label}`);
const session = lib.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
let stop = false;
void (async () => {
  for await (const _line of createInterface({ input: process.stdin })) break;
  stop = true;
})();
let typed = 0;
console.log('typing');
while (!stop) {
  // Synchronous bursts, then a turn of the event loop to hear "stop".
  for (let i = 0; i < 50; i++) {
    try {
      lib.C_Login(session, pkcs11js.CKU_USER, '000000');
    } catch {
      typed++;
    }
  }
  await new Promise((resolve) => setImmediate(resolve));
}
console.log(String(typed));
lib.C_CloseSession(session);
lib.C_Finalize();
