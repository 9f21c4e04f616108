// `tokengate fido set-pin`: the first PIN of a key that has none (TOKENGATE_NEW_PIN or typed twice).
import { defineCommand, exitsWith } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { readSecret } from '../../secrets.js';
import { printResult } from '../../table.js';
import { deviceOptions, withSecurityKey, type DeviceOptions } from '../device.js';

export function setPinCommand() {
  return deviceOptions(defineCommand('set-pin', 'Sets the PIN of a key that has none (TOKENGATE_NEW_PIN, or typed twice)')).action(
    exitsWith((options: DeviceOptions) =>
      withSecurityKey(options, async (key) => {
        const pin = await readSecret('new-pin');
        await key.setPin(pin);
        printResult(options.json, { path: key.path, pinSet: true }, `${key.path}: PIN set`);
        return EXIT.ok;
      }),
    ),
  );
}
