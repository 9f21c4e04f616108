// `tokengate fido change-pin`: the current PIN counts like any other (a wrong one costs a try).
import { defineCommand, exitsWith } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { pinOptions, type PinOptions } from '../../commands/options.js';
import { withFinalTry } from '../../final-try.js';
import { readSecret } from '../../secrets.js';
import { printResult } from '../../table.js';
import { deviceOptions, withSecurityKey, type DeviceOptions } from '../device.js';

export function changePinCommand() {
  return pinOptions(deviceOptions(defineCommand('change-pin', "Changes the key's PIN (TOKENGATE_PIN, then TOKENGATE_NEW_PIN)"))).action(
    exitsWith((options: DeviceOptions & PinOptions) =>
      withSecurityKey(options, async (key) => {
        const current = await readSecret('pin', { pinFd: options.pinFd });
        const next = await readSecret('new-pin');
        await withFinalTry(options, (allowFinalTry) => key.changePin(current, next, { allowFinalTry }));
        printResult(options.json, { path: key.path, changed: true }, `${key.path}: PIN changed`);
        return EXIT.ok;
      }),
    ),
  );
}
