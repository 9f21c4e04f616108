# python-fido2 0.9.1's side of `npm run bench:fido`: started once by bench/fido.ts, it opens the
# simulated key over UDP (native-fixtures/fido/peers/udp_hid.py) and then runs one timed round per
# line on stdin, so Python's start-up and imports are never timed. Run with /usr/bin/python3 only
# (Debian's python3-fido2).
#
#   fido_python_peer.py PORT RP_ID CREDENTIAL_ID_HEX   (the PIN in FIDO_SIM_PIN)
#   stdin  {"round_ms": 1000}  →  stdout {"count": …, "elapsed_s": …, "cpu_s": …}
#
# Each round first gets a PIN token with the getAssertion permission for RP_ID (untimed: the key
# has one token for all its clients, so the bench's own client took it over in the meantime), then,
# timed, does per assertion what tokengate's signChallenge does: a browser-style clientDataJSON for
# a fresh challenge, its SHA-256, the token's HMAC of it, getAssertion with up=false, the answer
# parsed, its rpIdHash checked and UV required (the token really was used).
import base64
import hashlib
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "native-fixtures", "fido", "peers"))

from fido2.ctap2 import Ctap2  # noqa: E402
from fido2.ctap2.pin import ClientPin, PinProtocolV2  # noqa: E402

from udp_hid import open_device  # noqa: E402

FLAG_UP = 0x01
FLAG_UV = 0x04


def main():
    port, rp_id, credential_hex = sys.argv[1:4]
    pin = os.environ["FIDO_SIM_PIN"]
    dev = open_device(int(port))
    ctap = Ctap2(dev)
    cp = ClientPin(ctap, PinProtocolV2())
    proto = cp.protocol
    allow = [{"type": "public-key", "id": bytes.fromhex(credential_hex)}]
    origin = "https://" + rp_id
    rp_hash = hashlib.sha256(rp_id.encode()).digest()
    challenges = [os.urandom(32) for _ in range(256)]
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command.get("quit"):
            break
        token = cp.get_pin_token(pin, ClientPin.PERMISSION.GET_ASSERTION, rp_id)
        seconds = command["round_ms"] / 1000.0
        count = 0
        cpu0 = time.process_time()
        start = time.perf_counter()
        end = start + seconds
        while time.perf_counter() < end:
            challenge = base64.urlsafe_b64encode(challenges[count & 255]).rstrip(b"=").decode()
            client_data = json.dumps(
                {"type": "webauthn.get", "challenge": challenge, "origin": origin, "crossOrigin": False},
                separators=(",", ":"),
            ).encode()
            cdh = hashlib.sha256(client_data).digest()
            a = ctap.get_assertion(
                rp_id, cdh, allow, options={"up": False},
                pin_uv_param=proto.authenticate(token, cdh), pin_uv_protocol=proto.VERSION,
            )
            flags = a.auth_data.flags
            if a.auth_data.rp_id_hash != rp_hash or not flags & FLAG_UV or flags & FLAG_UP:
                raise SystemExit("python-fido2: an assertion without UV, with UP, or for another RP (flags %#x)" % flags)
            count += 1
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
        print(json.dumps({"count": count, "elapsed_s": elapsed, "cpu_s": cpu}), flush=True)
    dev.close()


if __name__ == "__main__":
    main()
