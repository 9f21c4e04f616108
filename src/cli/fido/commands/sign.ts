// `tokengate fido sign`: the key signs the challenge in --in as a WebAuthn assertion (PIN first
// when the key has one, then a touch); --out gets the assertion as JSON, base64url fields.
import { writeFileSync } from 'node:fs';
import { defineCommand, exitsWith } from '../../command.js';
import { EXIT, UsageError } from '../../exit-codes.js';
import { pinOptions, type PinOptions } from '../../commands/options.js';
import { readInput } from '../../files.js';
import { printResult } from '../../table.js';
import { b64u, deviceOptions, fromB64u, touchPrompt, withSecurityKey, type DeviceOptions } from '../device.js';
import { unlockKey } from '../pin.js';

interface SignOptions extends DeviceOptions, PinOptions {
  rp: string;
  credential: string;
  in: string;
  out: string;
  origin?: string;
}

export function signCommand() {
  const command = defineCommand('sign', 'The key signs the challenge in FILE for --rp and --credential (PIN, then a touch)')
    .requiredOption('--rp <ID>', 'the relying party id the credential was made for')
    .requiredOption('--credential <ID>', 'the credential id (base64url, as enroll prints it)')
    .requiredOption('--in <FILE>', 'the challenge (16–1024 bytes)')
    .requiredOption('--out <FILE>', 'where the assertion (JSON) goes')
    .option('--origin <URL>', 'the origin written into clientDataJSON (default https://RP)');
  return pinOptions(deviceOptions(command)).action(
    exitsWith((options: SignOptions) =>
      withSecurityKey(options, async (key) => {
        const challenge = readInput('--in', options.in);
        // Checked before the PIN is asked for: a bad file must not cost a try.
        if (challenge.length < 16 || challenge.length > 1024) throw new UsageError(`--in ${options.in} holds ${challenge.length} bytes: a challenge is 16–1024`);
        const credentialId = fromB64u('--credential', options.credential);
        using touch = touchPrompt();
        if (key.pinSet) await unlockKey(key, options, touch);
        const a = await key.signChallenge({ ...touch, rpId: options.rp, challenge, credentialIds: [credentialId], ...(options.origin ? { origin: options.origin } : {}) });
        const data = {
          rpId: a.rpId,
          credentialId: b64u(a.credentialId),
          authenticatorData: b64u(a.authenticatorData),
          signature: b64u(a.signature),
          clientDataJSON: b64u(Buffer.from(a.clientDataJSON)),
          signCount: a.signCount,
          userPresent: a.userPresent,
          userVerified: a.userVerified,
        };
        writeFileSync(options.out, `${JSON.stringify(data, null, 2)}\n`);
        printResult(options.json, data, `signed for ${a.rpId} (counter ${a.signCount}${a.userVerified ? ', PIN verified' : ''}): ${options.out}`);
        return EXIT.ok;
      }),
    ),
  );
}
