// "Which module?" for a program that was not told: the first discovered module that has an
// initialised token in it right now (or, to initialise one, a blank token: SoftHSM's free slot). Modules that cannot start here (no reader service, no
// configuration) simply have no tokens for us.
import { discoverModules, type DiscoveryOptions } from './discovery.js';
import { Pkcs11Module } from './module.js';

export interface FindModuleOptions extends DiscoveryOptions {
  /** Look for a token that is not initialised yet, instead of one that is. */
  blank?: boolean;
}

export async function findModuleWithToken(options: FindModuleOptions = {}): Promise<string | undefined> {
  for (const candidate of discoverModules(options)) {
    try {
      // Only listing: no PIN is sent, so no guard is needed.
      await using module = await Pkcs11Module.load(candidate.path, { loginGuard: 'none' });
      if (module.tokens().some((t) => t.flags.tokenInitialized !== (options.blank === true))) return candidate.path;
    } catch {
      // Not usable here: next.
    }
  }
  return undefined;
}
