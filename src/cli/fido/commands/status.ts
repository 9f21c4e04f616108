// `tokengate fido status`: the key's PIN — set or not, tries left (as the key counts them), blocked
// for this power cycle (exit 9: unplug and plug in again) or for good (exit 4).
import type { SecurityKeyPinStatus } from '../../../index.js';
import { defineCommand, exitsWith } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { printResult } from '../../table.js';
import { deviceOptions, withSecurityKey, type DeviceOptions } from '../device.js';

function describe(s: SecurityKeyPinStatus): string {
  if (s.protocol === 'u2f') return 'U2F only: no PIN';
  if (!s.pinSet) return 'no PIN set (tokengate fido set-pin)';
  if (s.blocked) return 'PIN blocked: only a reset, which erases its credentials, helps';
  if (s.authBlocked) return `PIN refused until the key is unplugged and plugged in again (${String(s.retriesLeft)} tries left then)`;
  return `PIN ok (${String(s.retriesLeft)} tries left, counted by the key${s.finalTry ? ': the next wrong PIN blocks it' : ''})`;
}

export function statusCommand() {
  return deviceOptions(defineCommand('status', "The key's PIN: tries left, blocked until re-plugged (exit 9), blocked for good (exit 4)")).action(
    exitsWith((options: DeviceOptions) =>
      withSecurityKey(options, async (key) => {
        const status = await key.pinStatus();
        printResult(options.json, { path: key.path, ...status }, `${key.path}: ${describe(status)}`);
        if (status.blocked) return EXIT.pinLocked;
        return status.authBlocked ? EXIT.pinAuthBlocked : EXIT.ok;
      }),
    ),
  );
}
