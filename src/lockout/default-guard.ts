// Makes the host counter every module's default login guard: importing the package registers it
// (a side effect, listed in package.json's `sideEffects`), so a token that never locks is counted
// unless its module was loaded with another guard or, explicitly, `loginGuard: 'none'`. One guard
// per state directory per process, kept open for the process's life: the CLI, the kiosk and any
// application on the machine share the same counters under the same directory.
import { registerDefaultLoginGuard } from '../pkcs11/login-guard.js';
import { HostLockout } from './host-lockout.js';
import { defaultStateDir } from './state-dir.js';

const guards = new Map<string, HostLockout>();

registerDefaultLoginGuard(() => {
  const dir = defaultStateDir();
  let guard = guards.get(dir);
  if (!guard) {
    guard = new HostLockout({ stateDir: dir });
    guards.set(dir, guard);
  }
  return guard;
});
