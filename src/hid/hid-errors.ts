// The one place where what node-hid (and a socket) throws becomes a tokengate error. node-hid fails
// in three shapes — a plain Error from its async API ("cannot open device with path …", "could not
// read data from device: …", "Cannot write to hid device: …"), a TypeError from its argument
// checks and from a closed handle ("device has been closed"), and a bare string in the 'error'
// event of 'data' mode ("could not read from HID device: …") — and its detail after the colon is
// hidapi's: strerror() on Linux, "(0x%08X) text" from Windows, IOKit's text on macOS. Telling them
// apart by message is unavoidable here (no codes are given); it happens nowhere else.
//
// Decisions: at open, nothing at that path is TokenNotPresentError (as CKR_TOKEN_NOT_PRESENT is for
// a card), a key gone while open is TokenRemovedError (CKR_DEVICE_REMOVED); a bare read or write
// failure without detail counts as removal, because that is what an unplugged key gives
// (node-hid#520); a detail that names another cause is DeviceIoError.
import { accessSync, constants } from 'node:fs';
import {
  DeviceAccessDeniedError,
  DeviceIoError,
  TokengateError,
  TokenNotPresentError,
  TokenRemovedError,
} from '../errors/index.js';

export type HidOperation = 'open' | 'read' | 'write';

/** What the classification may look at besides the error itself; tests replace both. */
export interface HidErrorContext {
  /** Which fix an access-denied message gives; default `process.platform`. */
  platform?: NodeJS.Platform;
  /** Whether a device node exists and can be opened for reading and writing (Linux only). */
  probeNode?: (path: string) => 'absent' | 'denied' | 'accessible';
}

const DENIED = /permission denied|operation not permitted|access is denied|not permitted|\(0x00000005\)|\(0xe00002e2\)/i;
// Nothing there: strerror ENOENT/ENODEV/ENXIO, Windows FILE/PATH_NOT_FOUND, NO_SUCH_DEVICE, DEVICE_NOT_CONNECTED, macOS.
const ABSENT =
  /no such file or directory|no such device|cannot find the (?:file|path) specified|\(0x0000000[23]\)|\(0x000001b1\)|\(0x0000048f\)|not connected|does not exist|mach entry not found/i;
// A key pulled out while open: hidraw's POLLHUP, EIO from a dead node, macOS's flag, our own closed handle.
const GONE = /disconnected|device has been closed|device is already closed|input\/output error|transport endpoint/i;
// node-hid's read and write failures with nothing after them.
const BARE_IO = /^(?:could not read data from device|could not read from hid device|cannot write to hid device)$/i;
const ABSENT_CODES = new Set(['ENOENT', 'ENODEV', 'ENXIO']);
const GONE_CODES = new Set(['ENODEV', 'ENXIO', 'EIO', 'ESHUTDOWN', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH']);
const DENIED_CODES = new Set(['EACCES', 'EPERM']);

/**
 * Turns whatever node-hid or a socket threw (or emitted) while opening, reading or writing the
 * device at `path` into TokenNotPresentError (open: nothing there), TokenRemovedError (it went
 * while open), DeviceAccessDeniedError (with the fix for this platform) or DeviceIoError. The
 * original is the `cause`; the message names the path and the operation, never report bytes.
 */
export function classifyHidError(raw: unknown, path: string, op: HidOperation, context: HidErrorContext = {}): TokengateError {
  if (raw instanceof TokengateError) return raw;
  const text = (typeof raw === 'string' ? raw : raw instanceof Error ? raw.message : String(raw)).trim();
  const code = typeof raw === 'object' && raw !== null && typeof (raw as { code?: unknown }).code === 'string' ? (raw as { code: string }).code : '';
  const init = { cause: raw };
  const said = text === '' ? '' : `: ${text.slice(0, 200)}`;

  if (DENIED_CODES.has(code) || DENIED.test(text)) return accessDenied(path, op, context.platform ?? process.platform, raw);
  if (op === 'open') {
    if (ABSENT_CODES.has(code) || ABSENT.test(text)) return new TokenNotPresentError(`no security key at ${path} (unplugged, or not this path)${said}`, init);
    if (/not a hidraw device/i.test(text)) return new DeviceIoError(`${path} is not a HID device${said}`, init);
    // No reason given (some hidapi builds say none): the node itself tells, on Linux.
    if ((context.platform ?? process.platform) === 'linux' && path.startsWith('/dev/') && !/: \S/.test(text)) {
      const node = (context.probeNode ?? probeNode)(path);
      if (node === 'absent') return new TokenNotPresentError(`no security key at ${path} (unplugged, or not this path)${said}`, init);
      if (node === 'denied') return accessDenied(path, op, 'linux', raw);
    }
    return new DeviceIoError(`opening the security key at ${path} failed${said}`, init);
  }
  if (GONE_CODES.has(code) || GONE.test(text) || ABSENT.test(text) || BARE_IO.test(text)) {
    return new TokenRemovedError(`the security key at ${path} was removed (${op} failed)${said}`, init);
  }
  return new DeviceIoError(`${op === 'read' ? 'reading from' : 'writing to'} the security key at ${path} failed${said}`, init);
}

function accessDenied(path: string, op: HidOperation, platform: NodeJS.Platform, cause: unknown): DeviceAccessDeniedError {
  const refused = `the operating system refused to ${op} the security key at ${path}`;
  return new DeviceAccessDeniedError(`${refused}: ${accessFix(platform)}`, { cause });
}

/** How to let this user reach the key, said where the refusal is reported. */
export function accessFix(platform: NodeJS.Platform): string {
  switch (platform) {
    case 'linux':
      return (
        'this user may not open the hidraw device. Add a udev rule, e.g. /etc/udev/rules.d/70-fido.rules with ' +
        'KERNEL=="hidraw*", SUBSYSTEM=="hidraw", ATTRS{idVendor}=="1050", TAG+="uaccess" (1050 is Yubico; ' +
        'for a service or an SSH session, which uaccess does not cover, GROUP="plugdev", MODE="0660" and the user in plugdev), ' +
        "or install libfido2's 70-u2f.rules for the known keys (Debian/Ubuntu: libu2f-udev; systemd 244+ already grants FIDO keys to the user at the seat); " +
        'then run udevadm control --reload-rules && udevadm trigger and plug the key in again'
      );
    case 'win32':
      return 'since Windows 10 1903 only an Administrator may open FIDO keys over raw HID: run this program as Administrator';
    case 'darwin':
      return 'macOS did not allow it: another program may hold the key, or this program may need Input Monitoring (System Settings, Privacy & Security)';
    default:
      return 'this user needs read and write permission on the device node';
  }
}

function probeNode(path: string): 'absent' | 'denied' | 'accessible' {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return 'accessible';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'absent' : 'denied';
  }
}
