// Finding the PKCS#11 modules installed on this machine: p11-kit's module registry first (what
// the desktop and p11-kit-proxy use), then the usual install paths of the modules people ask for.
// Nothing is loaded here; `Pkcs11Module.load(entry.path)` does that.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, isAbsolute, join } from 'node:path';

export interface DiscoveredModule {
  /** Absolute path of the shared library, as listed (not resolved through symlinks). */
  path: string;
  /**
   * p11-kit's name for it (the `.module` file's name, e.g. `softhsm2`); for a well-known path, the
   * library's file name without `lib` and `.so` (`libykcs11.so` is `ykcs11`).
   */
  name: string;
  source: 'p11-kit' | 'well-known';
}

export interface DiscoveryOptions {
  /**
   * Directories holding p11-kit `.module` files, highest priority first, as p11-kit reads them:
   * the user's, then /etc/pkcs11/modules, then /usr/share/p11-kit/modules. For a file name in
   * more than one, the first one's `module:` key wins.
   */
  configDirs?: string[];
  /** Directories a relative `module:` name is looked up in (p11-kit's module path), in order. */
  moduleDirs?: string[];
  /** Library paths tried after p11-kit's registry. */
  wellKnownPaths?: string[];
}

// Debian and Ubuntu install under /usr/lib/<multiarch triplet>/; p11-kit's module path there is
// /usr/lib/<triplet>/pkcs11. Only this process's architecture matters: it cannot dlopen another's.
const TRIPLETS: Partial<Record<NodeJS.Architecture, string>> = {
  x64: 'x86_64-linux-gnu',
  arm64: 'aarch64-linux-gnu',
  arm: 'arm-linux-gnueabihf',
  ia32: 'i386-linux-gnu',
  ppc64: 'powerpc64le-linux-gnu',
  s390x: 's390x-linux-gnu',
  riscv64: 'riscv64-linux-gnu',
  loong64: 'loongarch64-linux-gnu',
  mipsel: 'mipsel-linux-gnu',
};

/** Library directories, most specific first: multiarch (Debian), lib64 (Fedora, SUSE), plain lib (Arch, Alpine), local, Homebrew. */
function libraryDirs(): string[] {
  const triplet = TRIPLETS[process.arch];
  return [
    ...(triplet ? [`/usr/lib/${triplet}`] : []),
    '/usr/lib64',
    '/usr/lib',
    '/usr/local/lib',
    '/opt/homebrew/lib',
  ];
}

function defaultConfigDirs(): string[] {
  return [join(homedir(), '.config', 'pkcs11', 'modules'), '/etc/pkcs11/modules', '/usr/share/p11-kit/modules'];
}

function defaultModuleDirs(): string[] {
  return libraryDirs().map((dir) => join(dir, 'pkcs11'));
}

function defaultWellKnownPaths(): string[] {
  return [
    ...libraryDirs().flatMap((dir) => [
      join(dir, 'softhsm', 'libsofthsm2.so'),
      join(dir, 'libsofthsm2.so'),
      join(dir, 'pkcs11', 'opensc-pkcs11.so'),
      join(dir, 'opensc-pkcs11.so'),
      join(dir, 'libykcs11.so'),
      join(dir, 'libykcs11.so.2'),
    ]),
    '/Library/OpenSC/lib/opensc-pkcs11.so',
  ];
}

// p11-kit's own trust store is a module too, but it holds CA anchors, not tokens anyone logs in
// to: it is left out rather than marked. (p11-kit itself keeps it out of p11-kit-proxy.)
const NOT_TOKEN_MODULES = new Set(['p11-kit-trust.so']);

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined; // gone since it was listed
  }
}

/** The value of the `module:` key of a p11-kit module file, if any. Other keys (enable-in, disable-in, priority…) are ignored. */
function moduleKey(text: string): string | undefined {
  for (const line of text.split('\n')) {
    if (/^\s*#/u.test(line)) continue;
    const match = /^\s*module\s*:\s*(.*?)\s*$/u.exec(line);
    if (match && match[1] !== '') return match[1];
  }
  return undefined;
}

function listModuleFiles(dir: string): string[] {
  try {
    return readdirSync(dir).filter((f) => f.endsWith('.module') && f.length > '.module'.length).sort();
  } catch {
    return []; // a missing or unreadable directory is no registry, as for p11-kit
  }
}

function readRegistry(configDirs: string[], moduleDirs: string[]): DiscoveredModule[] {
  // name -> the `module:` value from the highest-priority file that sets one (p11-kit merges a
  // name's files key by key, the first directory winning).
  const modules = new Map<string, string>();
  for (const dir of configDirs) {
    for (const file of listModuleFiles(dir)) {
      const name = file.slice(0, -'.module'.length);
      if (modules.has(name)) continue;
      let text: string;
      try {
        text = readFileSync(join(dir, file), 'utf8');
      } catch {
        continue; // unreadable registry entries are skipped
      }
      const lib = moduleKey(text);
      if (lib !== undefined) modules.set(name, lib);
    }
  }
  const found: DiscoveredModule[] = [];
  for (const [name, lib] of [...modules].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (NOT_TOKEN_MODULES.has(basename(lib))) continue;
    const candidates = isAbsolute(lib) ? [lib] : moduleDirs.map((d) => join(d, lib));
    const path = candidates.find(isFile);
    if (path) found.push({ path, name, source: 'p11-kit' });
  }
  return found;
}

/** `libykcs11.so.2` -> `ykcs11`, `opensc-pkcs11.so` -> `opensc-pkcs11`. */
function libraryName(path: string): string {
  return basename(path)
    .replace(/\.(so(\.\d+)*|dylib)$/u, '')
    .replace(/^lib(?=.)/u, '');
}

/**
 * Installed PKCS#11 modules that exist as files: p11-kit's registry entries (sorted by name), then
 * well-known install paths. Each library appears once: paths that resolve to the same file collapse
 * into the first entry. The p11-kit trust module is left out.
 */
export function discoverModules(options: DiscoveryOptions = {}): DiscoveredModule[] {
  const registry = readRegistry(options.configDirs ?? defaultConfigDirs(), options.moduleDirs ?? defaultModuleDirs());
  const wellKnown = (options.wellKnownPaths ?? defaultWellKnownPaths())
    .filter(isFile)
    .map((path): DiscoveredModule => ({ path, name: libraryName(path), source: 'well-known' }));
  const seen = new Set<string>();
  return [...registry, ...wellKnown].filter((m) => {
    const real = realpathOrUndefined(m.path);
    if (real === undefined || seen.has(real)) return false;
    seen.add(real);
    return true;
  });
}
