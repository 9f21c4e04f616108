// Which security key a `tokengate fido` command works on: --device PATH (a hidraw path, or
// udp:HOST:PORT for the simulator), else the only FIDO key plugged in. "Touch your key" is shown
// on the terminal (stderr) when the key asks for it — on UPNEEDED only.
import type { Command } from 'commander';
import { listFidoDevices, SecurityKey, TokenNotPresentError, type TouchOptions } from '../../index.js';
import { UsageError } from '../exit-codes.js';

export interface DeviceOptions {
  device?: string | undefined;
  json?: boolean | undefined;
}

export function deviceOptions(command: Command): Command {
  return command
    .option('--device <PATH>', 'the key: a HID path from `tokengate fido list`, or udp:HOST:PORT (default: the only key plugged in)')
    .option('--json', 'machine-readable output');
}

async function devicePath(options: DeviceOptions): Promise<string> {
  if (options.device) return options.device;
  const keys = await listFidoDevices();
  if (keys.length === 0) throw new TokenNotPresentError('no FIDO security key is plugged in (tokengate fido list shows what is seen)');
  if (keys.length > 1) throw new UsageError(`${keys.length} security keys are plugged in: name one with --device (tokengate fido list)`);
  return keys[0]!.path;
}

/** Runs `body` with the key open; closed after, whatever happens. */
export async function withSecurityKey<T>(options: DeviceOptions, body: (key: SecurityKey) => Promise<T>): Promise<T> {
  await using key = await SecurityKey.open(await devicePath(options));
  return await body(key);
}

/** Shows "touch your key" once when the key asks for a touch; Ctrl-C cancels on the key too. */
export function touchPrompt(): TouchOptions & Disposable {
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  return {
    signal: controller.signal,
    onTouch: () => console.error('touch your security key…'),
    [Symbol.dispose]: () => process.off('SIGINT', onSignal),
  };
}

export function b64u(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export function fromB64u(option: string, text: string): Buffer {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw new UsageError(`${option} takes base64url (as enroll prints it)`);
  return Buffer.from(text, 'base64url');
}
