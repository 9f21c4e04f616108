// `tokengate fido …`: USB security keys over HID (FIDO2, U2F as a fallback) — list, info, PIN
// status and changes, enroll for a relying party, sign a challenge, watch. PINs as for the token
// commands; exit codes too, plus 9: the key wants to be unplugged and plugged in again.
import { defineGroup } from '../command.js';
import { changePinCommand } from './commands/change-pin.js';
import { enrollCommand } from './commands/enroll.js';
import { infoCommand } from './commands/info.js';
import { listCommand } from './commands/list.js';
import { setPinCommand } from './commands/set-pin.js';
import { signCommand } from './commands/sign.js';
import { statusCommand } from './commands/status.js';
import { watchCommand } from './commands/watch.js';

const AFTER = `
--device udp:HOST:PORT talks to the simulator (npm run fido-sim).
exit codes as for the token commands; 9: too many wrong PINs since the key was plugged in.`;

export function fidoCommand() {
  return defineGroup('fido', 'USB security keys (FIDO2): PIN, enroll, sign, watch', 'USB security keys over HID (FIDO2 with its PIN; U2F keys as a fallback).', [
    listCommand(),
    infoCommand(),
    statusCommand(),
    setPinCommand(),
    changePinCommand(),
    enrollCommand(),
    signCommand(),
    watchCommand(),
  ]).addHelpText('after', AFTER);
}
