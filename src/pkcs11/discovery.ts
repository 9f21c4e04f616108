// Finding the PKCS#11 modules installed on this machine: p11-kit's module registry first (what
// the desktop and p11-kit-proxy use), then the usual install paths of the modules people ask for.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';

export interface DiscoveredModule {
  /** Absolute path of the shared library, as listed (not resolved through symlinks). */
  path: string;
  /** p11-kit's name for it (the .module file's name), else the library's file name. */
  name: string;
  source: 'p11-kit' | 'well-known';
}

export interface DiscoveryOptions {
  /** Directories holding p11-kit `.module` files. */
  configDirs?: string[];
  /** Directories a relative `module:` name is looked up in (p11-kit's module path). */
  moduleDirs?: string[];
  /** Library paths tried after p11-kit's registry. */
  wellKnownPaths?: string[];
}

// Multiarch triplets Debian and Ubuntu install under /usr/lib/<triplet>/.
const TRIPLETS = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'arm-linux-gnueabihf', 'i386-linux-gnu'];

function defaultConfigDirs(): string[] {
  return ['/usr/share/p11-kit/modules', '/etc/pkcs11/modules', join(homedir(), '.config', 'pkcs11', 'modules')];
}

function defaultModuleDirs(): string[] {
  return [...TRIPLETS.map((t) => `/usr/lib/${t}/pkcs11`), '/usr/lib/pkcs11', '/usr/lib64/pkcs11', '/usr/local/lib/pkcs11'];
}

function defaultWellKnownPaths(): string[] {
  const libDirs = [...TRIPLETS.map((t) => `/usr/lib/${t}`), '/usr/lib', '/usr/lib64', '/usr/local/lib'];
  return libDirs.flatMap((dir) => [
    join(dir, 'softhsm', 'libsofthsm2.so'),
    join(dir, 'opensc-pkcs11.so'),
    join(dir, 'pkcs11', 'opensc-pkcs11.so'),
    join(dir, 'libykcs11.so'),
    join(dir, 'libykcs11.so.2'),
  ]);
}

// p11-kit's own trust store is a module too, but it holds CA anchors, not tokens anyone logs in to.
const NOT_TOKEN_MODULES = new Set(['p11-kit-trust.so']);

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The value of the `module:` key of a p11-kit module file, if any. */
function moduleKey(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const match = /^\s*module\s*:\s*(.+?)\s*$/u.exec(line);
    if (match) return match[1];
  }
  return undefined;
}

function readRegistry(configDirs: string[], moduleDirs: string[]): DiscoveredModule[] {
  const found: DiscoveredModule[] = [];
  for (const dir of configDirs) {
    if (!existsSync(dir)) continue;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.module')).sort()) {
      let text: string;
      try {
        text = readFileSync(join(dir, file), 'utf8');
      } catch {
        continue; // unreadable registry entries are skipped, as p11-kit does
      }
      const lib = moduleKey(text);
      if (!lib || NOT_TOKEN_MODULES.has(basename(lib))) continue;
      const candidates = isAbsolute(lib) ? [lib] : moduleDirs.map((d) => join(d, lib));
      const path = candidates.find(isFile);
      if (path) found.push({ path, name: file.slice(0, -'.module'.length), source: 'p11-kit' });
    }
  }
  return found;
}

/** Installed PKCS#11 modules, each library once (paths that resolve to the same file collapse). */
export function discoverModules(options: DiscoveryOptions = {}): DiscoveredModule[] {
  const registry = readRegistry(options.configDirs ?? defaultConfigDirs(), options.moduleDirs ?? defaultModuleDirs());
  const wellKnown = (options.wellKnownPaths ?? defaultWellKnownPaths())
    .filter(isFile)
    .map((path): DiscoveredModule => ({ path, name: basename(path), source: 'well-known' }));
  const seen = new Set<string>();
  return [...registry, ...wellKnown].filter((m) => {
    const real = realpathSync(m.path);
    if (seen.has(real)) return false;
    seen.add(real);
    return true;
  });
}
