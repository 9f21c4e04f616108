// `tokengate fido info`: what the key says it can do (getInfo), or that it speaks U2F only.
import { defineCommand, exitsWith } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { printResult } from '../../table.js';
import { deviceOptions, withSecurityKey, type DeviceOptions } from '../device.js';

export function infoCommand() {
  return deviceOptions(defineCommand('info', 'What the key can do: versions, AAGUID, options, PIN protocols, algorithms')).action(
    exitsWith((options: DeviceOptions) =>
      withSecurityKey(options, async (key) => {
        const info = key.info;
        const data = { path: key.path, protocol: key.protocol, pinProtocol: key.pinProtocol, ...(info ?? {}) };
        const text = info
          ? `${key.path}: ${info.versions.join(', ')}  AAGUID ${info.aaguid}  PIN protocols ${info.pinUvAuthProtocols.join(', ') || 'none'}  options ${Object.entries(info.options).map(([k, v]) => `${k}=${v}`).join(' ')}`
          : `${key.path}: U2F only (no CTAP2: no PIN)`;
        printResult(options.json, data, text);
        return EXIT.ok;
      }),
    ),
  );
}
