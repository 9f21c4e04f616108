// classifyHidError against what node-hid 3.4.0 really throws. The shapes produced here for real:
// the plain Error of HIDAsync.open (a missing node, a file that is no hidraw node, and — run as an
// unprivileged user — a node this user may not open), the TypeError of its argument checks and of
// the sync API. The read and write failures need a key pulled out, so their texts are taken from
// node-hid's src/HIDAsync.cc and src/read.cc and hidapi's linux/, windows/ and mac/hid.c: the
// 'error' event's bare string, the rejected read/write Error, the TypeError of a closed handle.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyHidError } from '../src/hid/hid-errors.js';
import { loadNodeHid } from '../src/hid/node-hid-loader.js';
import { TokenRemovedError } from '../src/index.js';

const P = '/dev/hidraw7';
const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'hid-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function openFailure(path: unknown): Promise<unknown> {
  const hid = await loadNodeHid();
  try {
    await hid.HIDAsync.open(path as string);
  } catch (err) {
    return err;
  }
  throw new Error(`opening ${String(path)} succeeded`);
}

describe('classifyHidError: opening, with the errors node-hid really gives', () => {
  it('a path with nothing behind it (plain Error, ENOENT) is not present', async () => {
    const raw = await openFailure('/dev/hidraw-tokengate-missing');
    expect(raw).toBeInstanceOf(Error);
    expect((raw as Error).constructor).toBe(Error);
    const err = classifyHidError(raw, '/dev/hidraw-tokengate-missing', 'open');
    expect(err.code).toBe('ERR_TOKEN_NOT_PRESENT');
    expect(err.cause).toBe(raw);
    expect(err.message).toContain('/dev/hidraw-tokengate-missing');
  });

  it('a file that is no hidraw node is an I/O error', async () => {
    const file = join(dir, 'not-hidraw');
    writeFileSync(file, 'x');
    const raw = await openFailure(file);
    expect(classifyHidError(raw, file, 'open').code).toBe('ERR_DEVICE_IO');
  });

  it("the async API's TypeError for a bad argument is an I/O error", async () => {
    const raw = await openFailure(42);
    expect(raw).toBeInstanceOf(TypeError);
    expect(classifyHidError(raw, '42', 'open').code).toBe('ERR_DEVICE_IO');
  });

  it("the sync API's TypeError for a missing node is not present", async () => {
    const hid = await loadNodeHid();
    let raw: unknown;
    try {
      new hid.HID('/dev/hidraw-tokengate-missing');
    } catch (err) {
      raw = err;
    }
    expect(raw).toBeInstanceOf(TypeError);
    expect(classifyHidError(raw, '/dev/hidraw-tokengate-missing', 'open').code).toBe('ERR_TOKEN_NOT_PRESENT');
  });

  const canDropPrivileges = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
  it.runIf(canDropPrivileges)('a node this user may not open (EACCES, run as nobody) is access denied, with the fix', async () => {
    const node = join(dir, 'hidraw-root-only');
    writeFileSync(node, '');
    chmodSync(node, 0o600);
    chmodSync(dir, 0o711);
    const script = `require('node-hid').HIDAsync.open(${JSON.stringify(node)}).then(() => console.log('{}'), (e) => console.log(JSON.stringify({ type: e.constructor.name, message: e.message })))`;
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script], { cwd: root, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const { type, message } = JSON.parse(r.stdout) as { type: string; message: string };
    expect(type).toBe('Error');
    const raw = new Error(message);
    const err = classifyHidError(raw, node, 'open', { platform: 'linux' });
    expect(err.code).toBe('ERR_DEVICE_ACCESS_DENIED');
    expect(err.message).toContain('KERNEL=="hidraw*", SUBSYSTEM=="hidraw", ATTRS{idVendor}=="1050", TAG+="uaccess"');
  });
});

describe('classifyHidError: access denied, per platform', () => {
  const linux = new Error(`cannot open device with path ${P}: Failed to open a device with path '${P}': Permission denied`);
  it('on Linux, says to add a udev rule (or libfido2\'s rules)', () => {
    const err = classifyHidError(linux, P, 'open', { platform: 'linux' });
    expect(err.code).toBe('ERR_DEVICE_ACCESS_DENIED');
    expect(err.message).toMatch(/udev rule/);
    expect(err.message).toMatch(/70-u2f\.rules/);
    expect(err.message).toMatch(/libu2f-udev/);
    expect(err.cause).toBe(linux);
  });

  it('on Windows (hidapi: "open_device: (0x00000005) Access is denied."), says to run as Administrator', () => {
    const raw = new Error('cannot open device with path \\\\?\\hid#vid_1050&pid_0407#1: open_device: (0x00000005) Access is denied.');
    const err = classifyHidError(raw, '\\\\?\\hid#vid_1050&pid_0407#1', 'open', { platform: 'win32' });
    expect(err.code).toBe('ERR_DEVICE_ACCESS_DENIED');
    expect(err.message).toMatch(/Administrator/);
    expect(err.message).toMatch(/1903/);
  });

  it('with no reason given, a Linux node that exists but cannot be opened is access denied', () => {
    const raw = new Error(`cannot open device with path ${P}`);
    expect(classifyHidError(raw, P, 'open', { platform: 'linux', probeNode: () => 'denied' }).code).toBe('ERR_DEVICE_ACCESS_DENIED');
    expect(classifyHidError(raw, P, 'open', { platform: 'linux', probeNode: () => 'absent' }).code).toBe('ERR_TOKEN_NOT_PRESENT');
    expect(classifyHidError(raw, P, 'open', { platform: 'linux', probeNode: () => 'accessible' }).code).toBe('ERR_DEVICE_IO');
  });
});

describe('classifyHidError: a key pulled out while open', () => {
  const removed: [string, unknown, 'read' | 'write'][] = [
    // 'data' mode's 'error' event: a bare string (src/read.cc), hidraw's POLLHUP detail or none.
    ['the error event string, device disconnected', 'could not read from HID device: hid_read_timeout: unexpected poll error (device disconnected)', 'read'],
    ['the error event string, EIO', 'could not read from HID device: Input/output error', 'read'],
    ['the error event string, no detail (node-hid < 3.3, node-hid#520)', 'could not read from HID device', 'read'],
    ['the rejected read', new Error('could not read data from device: hid_read_timeout: unexpected poll error (device disconnected)'), 'read'],
    ['the rejected write, ENODEV', new Error('Cannot write to hid device: No such device'), 'write'],
    ['the rejected write, no detail', new Error('Cannot write to hid device'), 'write'],
    ['Windows, device not connected', new Error('could not read data from device: ReadFile: (0x0000048F) The device is not connected.'), 'read'],
    ['macOS', new Error('Cannot write to hid device: Device is disconnected'), 'write'],
    ['a closed native handle (TypeError)', new TypeError('device has been closed'), 'write'],
    ['a socket whose peer went (ECONNREFUSED)', Object.assign(new Error('recv ECONNREFUSED'), { code: 'ECONNREFUSED' }), 'read'],
  ];
  it.each(removed)('%s → TokenRemovedError', (_name, raw, op) => {
    const err = classifyHidError(raw, P, op);
    expect(err).toBeInstanceOf(TokenRemovedError);
    expect(err.code).toBe('ERR_TOKEN_REMOVED');
    expect(err.cause).toBe(raw);
  });

  const io: [string, unknown, 'read' | 'write'][] = [
    ['a read while the read thread runs (TypeError)', new TypeError('Cannot use read while async read is running'), 'read'],
    ['an empty write', new Error('Cannot write to hid device: Zero buffer/length'), 'write'],
    ['a write the kernel refused as too long', new Error('Cannot write to hid device: Invalid argument'), 'write'],
    ['something that is not an Error at all', 42, 'read'],
  ];
  it.each(io)('%s → DeviceIoError', (_name, raw, op) => {
    const err = classifyHidError(raw, P, op);
    expect(err.code).toBe('ERR_DEVICE_IO');
    expect(err.cause).toBe(raw);
  });

  it('a tokengate error passes through unchanged', () => {
    const already = new TokenRemovedError('gone');
    expect(classifyHidError(already, P, 'read')).toBe(already);
  });
});
