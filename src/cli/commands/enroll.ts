// `tokengate enroll`: registers the token's key (an existing one, or one made now) — or, with
// --fido, a USB security key's new credential — with the verifier, as an admin (TOKENGATE_API_KEY)
// or as the user (TOKENGATE_PASSWORD), and says what the user's challenge policy means for a door
// kiosk, which sends no password.
import type { KeyPairType } from '../../index.js';
import { selectSigningKey } from '../../index.js';
import { enrollSecurityKey, enrollToken, VerifierClient } from '../../client/index.js';
import { touchPrompt, withSecurityKey } from '../fido/device.js';
import { unlockKey } from '../fido/pin.js';
import { defineCommand, exitsWith } from '../command.js';
import { EXIT, UsageError } from '../exit-codes.js';
import { withLogin } from '../final-try.js';
import { withToken } from '../select.js';
import { printResult } from '../table.js';
import { keyTypeOption } from './keygen.js';
import { keyOption, pinOptions, tokenOptions, type KeyOptions, type PinOptions, type TokenOptions } from './options.js';

interface EnrollOptions extends TokenOptions, KeyOptions, PinOptions {
  verifier: string;
  username: string;
  type: KeyPairType;
  label?: string | undefined;
  subject?: string | undefined;
  fido?: string | undefined;
}

/** The verifier client and the secret enroll needs, from the environment; refused before the PIN is asked. */
function enrollClient(options: EnrollOptions): { verifier: VerifierClient; password: string | undefined } {
  const apiKey = process.env.TOKENGATE_API_KEY;
  const password = process.env.TOKENGATE_PASSWORD;
  if (!apiKey && !password) throw new UsageError('enroll needs TOKENGATE_API_KEY (an admin key) or TOKENGATE_PASSWORD (the user enrolls their own token)');
  return { verifier: new VerifierClient(options.verifier, apiKey ? { apiKey } : {}), password: apiKey ? undefined : password };
}

/** What the user's challenge policy means for a door kiosk, which sends no password. */
function policyAdvice(username: string, policy: string): string {
  if (policy === 'token-only') return `${username}'s challenge policy is token-only: the card and its PIN are enough at a kiosk.`;
  return `${username}'s challenge policy is ${policy}: a kiosk sends no password, so it will be refused. For a door, run: tokengate verifier policy set ${username} token-only (or a range: tokengate verifier policy range CIDR token-only)`;
}

/**
 * `--fido`: the verifier's registration challenge, the key's PIN (when it has one) for the
 * verifier's rpId, a touch, and the attestation to the verifier.
 */
async function enrollFido(options: EnrollOptions, device: string): Promise<number> {
  const { verifier, password } = enrollClient(options);
  return withSecurityKey({ device: device === 'auto' ? undefined : device }, async (key) => {
    using touch = touchPrompt();
    const pinSet = key.pinSet;
    const { credential } = await enrollSecurityKey(verifier, key, {
      ...touch,
      username: options.username,
      ...(options.label ? { label: options.label } : {}),
      ...(password ? { password } : {}),
      unlock: async (rpId) => {
        if (pinSet) await unlockKey(key, { ...options, rp: rpId }, touch);
      },
    });
    printResult(options.json, credential, `enrolled security key "${credential.label}" for ${credential.username} (${credential.rpId}): credential ${credential.id}\n${policyAdvice(credential.username, credential.challengePolicy)}`);
    return EXIT.ok;
  });
}

export function enrollCommand() {
  const command = defineCommand(
    'enroll',
    "Registers the token's key with the verifier",
    "Registers the token's key with the verifier: TOKENGATE_API_KEY (an admin key) or TOKENGATE_PASSWORD (the user enrolls their own token). Without --key a new key pair is made (--type, --label, --subject). Says which challenge policy the user has.",
  )
    .requiredOption('--verifier <URL>', 'the verifier, e.g. http://127.0.0.1:8787')
    .requiredOption('--username <NAME>', 'whose token it is');
  keyOption(command, 'a new key pair')
    .addOption(keyTypeOption())
    .option('--label <L>', "the new key's label (default: tokengate)")
    .option('--subject <DN>', "the new key's certificate subject (default: CN=USERNAME)");
  command.option('--fido <DEVICE>', 'enroll a FIDO security key instead: a HID path from `tokengate fido list`, udp:HOST:PORT, or "auto" (the only key plugged in); --label names it');
  return pinOptions(tokenOptions(command)).action(
    exitsWith((options: EnrollOptions) =>
      options.fido !== undefined ? enrollFido(options, options.fido) : withToken(options, async (token) => {
        // What can be checked without the token is checked before anyone is asked for a PIN.
        const { verifier, password } = enrollClient(options);
        const username = options.username;
        return withLogin(token, { write: true }, options, async (session) => {
          const key = options.key
            ? { existing: await selectSigningKey(session, options.key) }
            : { generate: { type: options.type, label: options.label ?? 'tokengate' }, subject: options.subject ?? `CN=${username}` };
          const { credential } = await enrollToken(verifier, session, { username, key, serial: token.serial, ...(password ? { password } : {}) });
          printResult(options.json, credential, `enrolled "${token.label}" (${credential.keyType}) for ${credential.username}: credential ${credential.id}\n${policyAdvice(credential.username, credential.challengePolicy)}`);
          return EXIT.ok;
        });
      }),
    ),
  );
}
