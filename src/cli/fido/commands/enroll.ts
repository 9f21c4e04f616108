// `tokengate fido enroll --rp ID`: a new credential on the key for a relying party (PIN first when
// the key has one, then a touch); prints the credential a verifier stores (JSON with --json).
import { writeFileSync } from 'node:fs';
import { Option } from 'commander';
import type { FidoAlgorithm } from '../../../index.js';
import { defineCommand, exitsWith } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { pinOptions, type PinOptions } from '../../commands/options.js';
import { printResult } from '../../table.js';
import { b64u, deviceOptions, touchPrompt, withSecurityKey, type DeviceOptions } from '../device.js';
import { unlockKey } from '../pin.js';

interface EnrollOptions extends DeviceOptions, PinOptions {
  rp: string;
  user: string;
  alg?: FidoAlgorithm;
  out?: string;
}

export function enrollCommand() {
  const command = defineCommand('enroll', 'Makes a credential on the key for --rp (PIN, then a touch)')
    .requiredOption('--rp <ID>', 'the relying party id, e.g. door.example.com')
    .option('--user <NAME>', 'the account the credential is for', 'tokengate')
    .addOption(new Option('--alg <ALG>', 'the credential algorithm (default: ES256, else EdDSA)').choices(['ES256', 'EdDSA']))
    .option('--out <FILE>', 'also write the credential (JSON) here');
  return pinOptions(deviceOptions(command)).action(
    exitsWith((options: EnrollOptions) =>
      withSecurityKey(options, async (key) => {
        using touch = touchPrompt();
        if (key.pinSet) await unlockKey(key, options, touch);
        const credential = await key.enroll({
          ...touch,
          rpId: options.rp,
          user: { id: options.user, name: options.user, displayName: options.user },
          ...(options.alg ? { algorithms: [options.alg] } : {}),
        });
        const data = {
          rpId: credential.rpId,
          credentialId: b64u(credential.credentialId),
          algorithm: credential.algorithm,
          publicKeyPem: credential.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
          publicKeyCose: b64u(credential.publicKeyCose),
          aaguid: credential.aaguid,
          signCount: credential.signCount,
          userVerified: credential.userVerified,
          attestationFormat: credential.attestationFormat,
          attestationObject: b64u(credential.attestationObject),
          clientDataJSON: b64u(Buffer.from(credential.clientDataJSON)),
        };
        if (options.out) writeFileSync(options.out, `${JSON.stringify(data, null, 2)}\n`);
        printResult(options.json, data, `enrolled for ${credential.rpId} (${credential.algorithm}): credential ${data.credentialId}`);
        return EXIT.ok;
      }),
    ),
  );
}
