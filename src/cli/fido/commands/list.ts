// `tokengate fido list`: the FIDO security keys plugged in (by HID usage page, not by vendor).
import { listFidoDevices } from '../../../index.js';
import { defineCommand, exitsWith } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { printListing } from '../../table.js';

export function listCommand() {
  return defineCommand('list', 'The FIDO security keys plugged in')
    .option('--json', 'machine-readable output')
    .action(
      exitsWith(async (options: { json?: boolean }) => {
        const keys = await listFidoDevices();
        const rows = keys.map((k) => ({ path: k.path, name: k.displayName, vendor: hex(k.vendorId), product: hex(k.productId), serial: k.serialNumber ?? '' }));
        printListing(options.json, keys, rows);
        return EXIT.ok;
      }),
    );
}

function hex(id: number): string {
  return `0x${id.toString(16).padStart(4, '0')}`;
}
