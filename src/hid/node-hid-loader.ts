// node-hid is loaded on first use, by dynamic import, never by importing tokengate: its binary links
// libusb-1.0 and libudev, and code that never touches a security key should not need either (the
// entry-points test checks that importing tokengate maps no addon but pkcs11js). node-hid itself
// loads its binary only at the first call, so the loader makes that call here, where a missing
// shared library can be reported as what it is rather than as a device that is not there.
import { ModuleLoadError } from '../errors/index.js';

export type NodeHid = typeof import('node-hid');

let loaded: Promise<NodeHid> | undefined;

/** node-hid with its native binding loaded; ModuleLoadError (saying what to install) when it cannot be. */
export function loadNodeHid(): Promise<NodeHid> {
  loaded ??= load().catch((err: unknown) => {
    loaded = undefined; // a library installed later is found at the next try
    throw err;
  });
  return loaded;
}

async function load(): Promise<NodeHid> {
  let hid: NodeHid;
  try {
    hid = await import('node-hid');
    hid.getHidapiVersion(); // loads the binding
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    const missing = /lib(usb|udev)[^:\s]*/i.exec(text)?.[0];
    const fix = missing
      ? `${missing} is missing: install libusb-1.0-0 and libudev1 (Debian/Ubuntu: apt-get install libusb-1.0-0 libudev1)`
      : 'reinstall node-hid for this platform and Node version (on Linux it needs libusb-1.0-0 and libudev1)';
    throw new ModuleLoadError(`node-hid could not be loaded, so no USB security key can be reached: ${fix}`, { cause: err });
  }
  return hid;
}
