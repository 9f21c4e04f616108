// node-hid whose binary cannot be loaded (the prebuild links libusb-1.0 and libudev): listing and
// opening keys fail with ModuleLoadError saying what to install, not with a "no such file" that
// would read as a key not being there, and the watcher on node-hid's list stops. The binary's
// failure is stood in for by a mock: this machine has libusb, and removing it is not ours to do.
import { once } from 'node:events';
import { describe, expect, it, vi } from 'vitest';
import { FidoDeviceWatcher, listFidoDevices, openHidTransport, type TokengateError } from '../src/index.js';

const dlopenFailure = new Error('libusb-1.0.so.0: cannot open shared object file: No such file or directory');
vi.mock('node-hid', () => ({
  getHidapiVersion: () => {
    throw dlopenFailure;
  },
}));

describe('node-hid that cannot be loaded', () => {
  it('listing keys fails with ModuleLoadError naming the package to install', async () => {
    const err = (await listFidoDevices().catch((e: unknown) => e)) as TokengateError;
    expect(err.code).toBe('ERR_MODULE_LOAD');
    expect(err.message).toContain('libusb-1.0-0');
    expect(err.cause).toBe(dlopenFailure);
  });

  it('opening a key fails the same way (not as a key that is not there)', async () => {
    const err = (await openHidTransport('/dev/hidraw0').catch((e: unknown) => e)) as TokengateError;
    expect(err.code).toBe('ERR_MODULE_LOAD');
  });

  it("the watcher on node-hid's list reports it once and stops", async () => {
    const watcher = new FidoDeviceWatcher({ intervalMs: 20 });
    const [err] = (await once(watcher, 'error', { signal: AbortSignal.timeout(5_000) })) as [TokengateError];
    expect(err.code).toBe('ERR_MODULE_LOAD');
    expect(watcher.closed).toBe(true);
  });
});
