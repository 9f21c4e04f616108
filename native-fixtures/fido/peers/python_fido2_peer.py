# Independent checks of the simulated key with python-fido2 0.9.1 (Debian): one scenario per run,
# `python_fido2_peer.py PORT SCENARIO [ARGS…]`, one JSON object on stdout. A CtapError is reported
# as {"error": code} rather than raised, so the test can assert the exact status a real client sees.
import hashlib
import json
import os
import sys

from fido2 import cbor
from fido2.ctap import CtapError
from fido2.ctap1 import Ctap1, ApduError
from fido2.ctap2 import Ctap2
from fido2.ctap2.pin import ClientPin, PinProtocolV1, PinProtocolV2

from udp_hid import open_device

PROTOCOLS = {1: PinProtocolV1, 2: PinProtocolV2}


def client_pin(ctap, protocol):
    return ClientPin(ctap, PROTOCOLS[int(protocol)]())


def attempt(fn):
    try:
        return {"ok": fn()}
    except CtapError as e:
        return {"error": int(e.code)}


def info(dev):
    ctap = Ctap2(dev)
    i = ctap.info
    return {
        "ctaphid_version": dev.version,
        "device_version": list(dev.device_version),
        "capabilities": dev.capabilities,
        "versions": i.versions,
        "aaguid": i.aaguid.hex(),
        "options": i.options,
        "max_msg_size": i.max_msg_size,
        "pin_uv_protocols": i.pin_uv_protocols,
        "algorithms": [a["alg"] for a in (i.algorithms or [])],
        "firmware_version": i.firmware_version,
        "ping": dev.ping(b"x" * 300).hex() == (b"x" * 300).hex(),
    }


def retries(dev, protocol="2"):
    r = client_pin(Ctap2(dev), protocol).get_pin_retries()
    return {"retries": r[0], "power_cycle_state": r[1]}


def set_pin(dev, pin, protocol="2"):
    ctap = Ctap2(dev)
    before = ctap.info.options.get("clientPin")
    result = attempt(lambda: client_pin(ctap, protocol).set_pin(pin))
    return {"before": before, "after": ctap.get_info().options.get("clientPin"), **result}


def change_pin(dev, old, new, protocol="2"):
    return attempt(lambda: client_pin(Ctap2(dev), protocol).change_pin(old, new))


def token(dev, pin, protocol="2", mode="permissions"):
    ctap = Ctap2(dev)
    cp = client_pin(ctap, protocol)
    if mode == "legacy":
        cp._supports_permissions = False  # force getPinToken (0x05)
        r = attempt(lambda: len(cp.get_pin_token(pin)))
    else:
        r = attempt(lambda: len(cp.get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, "example.com")))
    return {**r, "retries": cp.get_pin_retries()[0]}


def wrong_pins(dev, pin, count, protocol="2"):
    ctap = Ctap2(dev)
    cp = client_pin(ctap, protocol)
    out = []
    for _ in range(int(count)):
        r = attempt(lambda: cp.get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, "example.com"))
        r.pop("ok", None)
        rs = cp.get_pin_retries()
        out.append({**r, "retries": rs[0], "power_cycle_state": rs[1]})
    return {"attempts": out}


def register_and_sign(dev, alg, pin, protocol="2"):
    ctap = Ctap2(dev)
    cp = client_pin(ctap, protocol)
    proto = cp.protocol
    rp = {"id": "example.com", "name": "Example"}
    user = {"id": b"user-1", "name": "alice"}
    cdh = hashlib.sha256(b"register challenge").digest()
    tok = cp.get_pin_token(pin, ClientPin.PERMISSION.MAKE_CREDENTIAL, rp["id"])
    att = ctap.make_credential(
        cdh, rp, user, [{"type": "public-key", "alg": int(alg)}],
        pin_uv_param=proto.authenticate(tok, cdh), pin_uv_protocol=proto.VERSION,
    )
    cred = att.auth_data.credential_data
    # The token lost its permissions with that use (CTAP 2.1): a second use must fail.
    reuse = attempt(lambda: ctap.make_credential(
        cdh, rp, user, [{"type": "public-key", "alg": int(alg)}],
        pin_uv_param=proto.authenticate(tok, cdh), pin_uv_protocol=proto.VERSION,
    ))
    assertions = []
    for n in range(2):
        chal = hashlib.sha256(b"assertion challenge %d" % n).digest()
        tok = cp.get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, rp["id"])
        a = ctap.get_assertion(
            rp["id"], chal, [{"type": "public-key", "id": cred.credential_id}],
            pin_uv_param=proto.authenticate(tok, chal), pin_uv_protocol=proto.VERSION,
        )
        a.verify(chal, cred.public_key)  # python-fido2's own check; raises if bad
        assertions.append({
            "client_data_hash": chal.hex(),
            "auth_data": bytes(a.auth_data).hex(),
            "signature": a.signature.hex(),
            "counter": a.auth_data.counter,
            "flags": a.auth_data.flags,
            "credential_id": a.credential["id"].hex(),
        })
    # A tampered signature must not verify.
    tampered_ok = True
    try:
        bad = bytes.fromhex(assertions[0]["auth_data"])
        cred.public_key.verify(bad[:-1] + bytes([bad[-1] ^ 1]) + bytes.fromhex(assertions[0]["client_data_hash"]), bytes.fromhex(assertions[0]["signature"]))
    except Exception:
        tampered_ok = False
    no_creds = attempt(lambda: ctap.get_assertion(rp["id"], cdh, [{"type": "public-key", "id": b"\0" * 16}]))
    return {
        "fmt": att.fmt,
        "att_alg": att.att_statement.get("alg"),
        "attestation_verifies": verify_self_attestation(att, cdh),
        "flags": att.auth_data.flags,
        "aaguid": cred.aaguid.hex(),
        "credential_id": cred.credential_id.hex(),
        "cose_key": cbor.encode(dict(cred.public_key)).hex(),
        "alg": cred.public_key.ALGORITHM,
        "reuse": reuse.get("error"),
        "assertions": assertions,
        "tampered_verifies": tampered_ok,
        "no_credentials": no_creds.get("error"),
    }


def verify_self_attestation(att, cdh):
    try:
        att.auth_data.credential_data.public_key.verify(bytes(att.auth_data) + cdh, att.att_statement["sig"])
        return True
    except Exception:
        return False


def no_pin_token(dev):
    """makeCredential without pinUvAuthParam on a key with a PIN: PUAT_REQUIRED."""
    ctap = Ctap2(dev)
    cdh = hashlib.sha256(b"x").digest()
    r = attempt(lambda: ctap.make_credential(cdh, {"id": "example.com"}, {"id": b"u"}, [{"type": "public-key", "alg": -7}]))
    bad = attempt(lambda: ctap.make_credential(cdh, {"id": "example.com"}, {"id": b"u"}, [{"type": "public-key", "alg": -7}], pin_uv_param=b"\1" * 32, pin_uv_protocol=2))
    return {"without": r.get("error"), "wrong_param": bad.get("error")}


def caps(dev):
    return {"ctaphid_version": dev.version, "capabilities": dev.capabilities, "ping": dev.ping(b"abc").decode()}


def set_short_pin(dev, pin, protocol="2"):
    """setPIN with a PIN under 4 code points, padded by hand (python-fido2 itself refuses it)."""
    ctap = Ctap2(dev)
    cp = client_pin(ctap, protocol)
    padded = pin.encode().ljust(64, b"\0")
    key_agreement, secret = cp._get_shared_secret()
    enc = cp.protocol.encrypt(secret, padded)
    return attempt(lambda: ctap.client_pin(
        cp.protocol.VERSION, ClientPin.CMD.SET_PIN, key_agreement=key_agreement,
        new_pin_enc=enc, pin_uv_param=cp.protocol.authenticate(secret, enc),
    ))


def u2f(dev):
    ctap1 = Ctap1(dev)
    app = hashlib.sha256(b"https://example.com").digest()
    chal = hashlib.sha256(b"u2f challenge").digest()
    version = ctap1.get_version()
    reg = ctap1.register(chal, app)
    reg.verify(app, chal)
    sig = ctap1.authenticate(chal, app, reg.key_handle)
    sig.verify(app, chal, reg.public_key)
    try:
        ctap1.authenticate(chal, app, reg.key_handle, check_only=True)
        check = None
    except ApduError as e:
        check = e.code
    try:
        ctap1.authenticate(chal, hashlib.sha256(b"other").digest(), reg.key_handle)
        wrong_app = None
    except ApduError as e:
        wrong_app = e.code
    return {"version": version, "counter": sig.counter, "presence": sig.user_presence, "check_only": check, "wrong_app": wrong_app}


SCENARIOS = {
    "info": info,
    "retries": retries,
    "set-pin": set_pin,
    "change-pin": change_pin,
    "token": token,
    "wrong-pins": wrong_pins,
    "register-and-sign": register_and_sign,
    "no-pin-token": no_pin_token,
    "u2f": u2f,
    "caps": caps,
    "set-short-pin": set_short_pin,
}


def main():
    port, scenario, *args = sys.argv[1:]
    dev = open_device(int(port))
    try:
        result = SCENARIOS[scenario](dev, *args)
    finally:
        dev.close()
    json.dump(result, sys.stdout, default=lambda o: o.hex() if isinstance(o, bytes) else str(o))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
