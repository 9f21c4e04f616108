#!/usr/bin/env bash
# Installs what tokengate's demo, tests and benchmarks need on a Debian machine, only where missing:
# SoftHSM2, OpenSC (pkcs11-tool, opensc-pkcs11.so), OpenSSL, p11-kit, the smart-card stack for the
# emulated PIV card (pcscd, vsmartcard-vpcd), a PostgreSQL server for the verifier's shared store,
# tmux for the kiosk's terminal tests; for USB security keys, the libusb that node-hid's prebuilt
# binary links, and the independent FIDO2 clients the simulator is checked against (python-fido2,
# libfido2 with fido2-tools); Chromium, which the web pages' tests drive headless (playwright-core);
# then the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v softhsm2-util >/dev/null 2>&1 || need+=(softhsm2)
command -v pkcs11-tool >/dev/null 2>&1 || need+=(opensc)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
[ -e /usr/share/p11-kit/modules ] || need+=(p11-kit)
[ -x /usr/sbin/pcscd ] || need+=(pcscd)
[ -e /usr/lib/pcsc/drivers/serial/libifdvpcd.so ] || need+=(vsmartcard-vpcd)
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v tmux >/dev/null 2>&1 || need+=(tmux)
compgen -G '/usr/lib/*/libusb-1.0.so.0' >/dev/null || need+=(libusb-1.0-0)
/usr/bin/python3 -c 'import fido2' >/dev/null 2>&1 || need+=(python3-fido2)
compgen -G '/usr/lib/*/libfido2.so.1' >/dev/null || need+=(libfido2-1)
command -v fido2-assert >/dev/null 2>&1 || need+=(fido2-tools)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} (apt)" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # Without systemd, Debian's postinst scripts start the system pcscd and PostgreSQL. The tests run
  # their own instances (pcscd owns the one /run/pcscd socket), so the system ones are stopped.
  for svc in pcscd postgresql; do
    if [[ " ${need[*]} " == *" $svc "* ]] && [ -x "/etc/init.d/$svc" ]; then $SUDO "/etc/init.d/$svc" stop >/dev/null 2>&1 || true; fi
  done
fi

if [ ! -e node_modules/pkcs11js/build/Release/pkcs11.node ] || [ ! -e node_modules/.bin/tsx ]; then
  echo "setup: installing npm dependencies" >&2
  npm ci --no-audit --no-fund --loglevel=error
fi
