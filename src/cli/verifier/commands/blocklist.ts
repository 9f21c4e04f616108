// `tokengate verifier blocklist`: the serials and certificate fingerprints of blocked tokens, as a
// kiosk fetches them.
import { jsonOption } from '../../commands/options.js';
import { printListing } from '../../table.js';
import { defineVerifierCommand, withVerifier } from '../command.js';

export function blocklistCommand() {
  return jsonOption(defineVerifierCommand('blocklist', 'Serials and certificate fingerprints of blocked tokens')).action(
    withVerifier<{ json?: boolean }>(async (verifier, _args, options) => {
      const list = await verifier.credentials.blocklist();
      printListing(options.json, list, [...list.serials.map((value) => ({ kind: 'serial', value })), ...list.certificateFingerprints.map((value) => ({ kind: 'certificate sha-256', value }))]);
    }),
  );
}
