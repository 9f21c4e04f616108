# libfido2 1.12 (Debian libfido2-1) driving the simulated key over UDP loopback: its
# fido_dev_set_io_functions hook routes the device's reports through a datagram socket, so
# libfido2's own framing, CBOR checks (canonical map order) and PIN protocol run against the
# simulator. `libfido2_udp.py PORT SCENARIO [ARGS…]` prints one JSON object. Needs no headers:
# the few prototypes are declared here from libfido2's fido.h.
import base64
import ctypes
import hashlib
import json
import os
import socket
import sys
from ctypes import CFUNCTYPE, POINTER, Structure, byref, c_bool, c_char_p, c_int, c_size_t, c_ubyte, c_uint8, c_uint32, c_void_p

lib = ctypes.CDLL("libfido2.so.1")

OPEN = CFUNCTYPE(c_void_p, c_char_p)
CLOSE = CFUNCTYPE(None, c_void_p)
READ = CFUNCTYPE(c_int, c_void_p, POINTER(c_ubyte), c_size_t, c_int)
WRITE = CFUNCTYPE(c_int, c_void_p, POINTER(c_ubyte), c_size_t)


class DevIo(Structure):
    _fields_ = [("open", OPEN), ("close", CLOSE), ("read", READ), ("write", WRITE)]


def proto(name, restype, *argtypes):
    fn = getattr(lib, name)
    fn.restype = restype
    fn.argtypes = list(argtypes)
    return fn


fido_init = proto("fido_init", None, c_int)
fido_strerr = proto("fido_strerr", c_char_p, c_int)
fido_dev_new = proto("fido_dev_new", c_void_p)
fido_dev_set_io_functions = proto("fido_dev_set_io_functions", c_int, c_void_p, POINTER(DevIo))
fido_dev_set_timeout = proto("fido_dev_set_timeout", c_int, c_void_p, c_int)
fido_dev_open = proto("fido_dev_open", c_int, c_void_p, c_char_p)
fido_dev_close = proto("fido_dev_close", c_int, c_void_p)
fido_dev_is_fido2 = proto("fido_dev_is_fido2", c_bool, c_void_p)
fido_dev_supports_pin = proto("fido_dev_supports_pin", c_bool, c_void_p)
fido_dev_has_pin = proto("fido_dev_has_pin", c_bool, c_void_p)
fido_dev_supports_permissions = proto("fido_dev_supports_permissions", c_bool, c_void_p)
fido_dev_protocol = proto("fido_dev_protocol", c_uint8, c_void_p)
fido_dev_flags = proto("fido_dev_flags", c_uint8, c_void_p)
fido_dev_get_retry_count = proto("fido_dev_get_retry_count", c_int, c_void_p, POINTER(c_int))
fido_dev_make_cred = proto("fido_dev_make_cred", c_int, c_void_p, c_void_p, c_char_p)
fido_dev_get_assert = proto("fido_dev_get_assert", c_int, c_void_p, c_void_p, c_char_p)
fido_cred_new = proto("fido_cred_new", c_void_p)
fido_cred_set_type = proto("fido_cred_set_type", c_int, c_void_p, c_int)
fido_cred_set_clientdata_hash = proto("fido_cred_set_clientdata_hash", c_int, c_void_p, c_char_p, c_size_t)
fido_cred_set_rp = proto("fido_cred_set_rp", c_int, c_void_p, c_char_p, c_char_p)
fido_cred_set_user = proto("fido_cred_set_user", c_int, c_void_p, c_char_p, c_size_t, c_char_p, c_char_p, c_char_p)
fido_cred_verify_self = proto("fido_cred_verify_self", c_int, c_void_p)
fido_cred_fmt = proto("fido_cred_fmt", c_char_p, c_void_p)
fido_cred_flags = proto("fido_cred_flags", c_uint8, c_void_p)
fido_cred_id_ptr = proto("fido_cred_id_ptr", c_void_p, c_void_p)
fido_cred_id_len = proto("fido_cred_id_len", c_size_t, c_void_p)
fido_cred_pubkey_ptr = proto("fido_cred_pubkey_ptr", c_void_p, c_void_p)
fido_cred_pubkey_len = proto("fido_cred_pubkey_len", c_size_t, c_void_p)
fido_assert_new = proto("fido_assert_new", c_void_p)
fido_assert_set_rp = proto("fido_assert_set_rp", c_int, c_void_p, c_char_p)
fido_assert_set_clientdata_hash = proto("fido_assert_set_clientdata_hash", c_int, c_void_p, c_char_p, c_size_t)
fido_assert_allow_cred = proto("fido_assert_allow_cred", c_int, c_void_p, c_char_p, c_size_t)
fido_assert_count = proto("fido_assert_count", c_size_t, c_void_p)
fido_assert_authdata_ptr = proto("fido_assert_authdata_ptr", c_void_p, c_void_p, c_size_t)
fido_assert_authdata_len = proto("fido_assert_authdata_len", c_size_t, c_void_p, c_size_t)
fido_assert_sig_ptr = proto("fido_assert_sig_ptr", c_void_p, c_void_p, c_size_t)
fido_assert_sig_len = proto("fido_assert_sig_len", c_size_t, c_void_p, c_size_t)
fido_assert_flags = proto("fido_assert_flags", c_uint8, c_void_p, c_size_t)
fido_assert_sigcount = proto("fido_assert_sigcount", c_uint32, c_void_p, c_size_t)

FIDO_OK = 0
COSE = {"es256": -7, "eddsa": -8}


class UdpIo:
    """The four io callbacks over one datagram socket; kept alive as long as the device."""

    def __init__(self, port):
        self.peer = ("127.0.0.1", port)
        self.sock = None
        self.writes = 0

        def do_open(path):
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind(("127.0.0.1", 0))
            return 1

        def do_close(handle):
            if self.sock:
                self.sock.close()
                self.sock = None

        def do_read(handle, buf, length, ms):
            self.sock.settimeout(15.0 if ms < 0 else ms / 1000.0)
            try:
                while True:
                    data, sender = self.sock.recvfrom(2048)
                    if sender == self.peer:
                        break
            except socket.timeout:
                return -1
            n = min(len(data), length)
            ctypes.memmove(buf, data, n)
            return n

        def do_write(handle, buf, length):
            data = ctypes.string_at(buf, length)
            # libfido2 writes the report ID first (65 bytes); a report on our wire is 64.
            self.sock.sendto(data[1:], self.peer)
            self.writes += 1
            return length

        self.io = DevIo(OPEN(do_open), CLOSE(do_close), READ(do_read), WRITE(do_write))


def check(r, what):
    if r != FIDO_OK:
        raise RuntimeError("%s: %s (%d)" % (what, fido_strerr(r).decode(), r))


def blob(ptr, length):
    return ctypes.string_at(ptr, length) if length else b""


def b64(data):
    return base64.b64encode(data).decode()


def open_dev(port):
    io = UdpIo(port)
    dev = fido_dev_new()
    check(fido_dev_set_io_functions(dev, byref(io.io)), "fido_dev_set_io_functions")
    check(fido_dev_set_timeout(dev, 15000), "fido_dev_set_timeout")
    check(fido_dev_open(dev, ("udp:127.0.0.1:%d" % port).encode()), "fido_dev_open")
    return dev, io


def info(dev):
    retries = c_int(-1)
    r = fido_dev_get_retry_count(dev, byref(retries))
    return {
        "is_fido2": fido_dev_is_fido2(dev),
        "supports_pin": fido_dev_supports_pin(dev),
        "has_pin": fido_dev_has_pin(dev),
        "supports_permissions": fido_dev_supports_permissions(dev),
        "ctaphid_protocol": fido_dev_protocol(dev),
        "flags": fido_dev_flags(dev),
        "retry_count": retries.value if r == FIDO_OK else None,
        "retry_error": None if r == FIDO_OK else r,
    }


def register_and_sign(dev, kind, pin):
    rp = b"example.org"
    cdh = hashlib.sha256(b"libfido2 register").digest()
    cred = fido_cred_new()
    check(fido_cred_set_type(cred, COSE[kind]), "fido_cred_set_type")
    check(fido_cred_set_clientdata_hash(cred, cdh, len(cdh)), "fido_cred_set_clientdata_hash")
    check(fido_cred_set_rp(cred, rp, b"Example"), "fido_cred_set_rp")
    check(fido_cred_set_user(cred, b"user-7", 6, b"bob", b"Bob", None), "fido_cred_set_user")
    check(fido_dev_make_cred(dev, cred, pin.encode()), "fido_dev_make_cred")
    verify_self = fido_cred_verify_self(cred)
    cred_id = blob(fido_cred_id_ptr(cred), fido_cred_id_len(cred))
    pubkey = blob(fido_cred_pubkey_ptr(cred), fido_cred_pubkey_len(cred))
    out = {
        "fmt": fido_cred_fmt(cred).decode(),
        "cred_flags": fido_cred_flags(cred),
        "verify_self": verify_self,
        "credential_id": b64(cred_id),
        "public_key": b64(pubkey),
        "rp_id": rp.decode(),
        "assertions": [],
    }
    for n in range(2):
        cdh = hashlib.sha256(b"libfido2 assert %d" % n).digest()
        a = fido_assert_new()
        check(fido_assert_set_rp(a, rp), "fido_assert_set_rp")
        check(fido_assert_set_clientdata_hash(a, cdh, len(cdh)), "fido_assert_set_clientdata_hash")
        check(fido_assert_allow_cred(a, cred_id, len(cred_id)), "fido_assert_allow_cred")
        check(fido_dev_get_assert(dev, a, pin.encode()), "fido_dev_get_assert")
        out["assertions"].append({
            "count": fido_assert_count(a),
            "client_data_hash": b64(cdh),
            "auth_data_cbor": b64(blob(fido_assert_authdata_ptr(a, 0), fido_assert_authdata_len(a, 0))),
            "signature": b64(blob(fido_assert_sig_ptr(a, 0), fido_assert_sig_len(a, 0))),
            "flags": fido_assert_flags(a, 0),
            "sigcount": fido_assert_sigcount(a, 0),
        })
    return out


def wrong_pin(dev, pin):
    cdh = hashlib.sha256(b"x").digest()
    a = fido_assert_new()
    check(fido_assert_set_rp(a, b"example.org"), "fido_assert_set_rp")
    check(fido_assert_set_clientdata_hash(a, cdh, len(cdh)), "fido_assert_set_clientdata_hash")
    check(fido_assert_allow_cred(a, b"\1" * 16, 16), "fido_assert_allow_cred")
    r = fido_dev_get_assert(dev, a, pin.encode())
    retries = c_int(-1)
    check(fido_dev_get_retry_count(dev, byref(retries)), "fido_dev_get_retry_count")
    return {"error": r, "error_name": fido_strerr(r).decode(), "retry_count": retries.value}


SCENARIOS = {"info": info, "register-and-sign": register_and_sign, "wrong-pin": wrong_pin}


def main():
    port, scenario, *args = sys.argv[1:]
    fido_init(1 if os.environ.get("FIDO_DEBUG") else 0)
    dev, io = open_dev(int(port))
    try:
        result = SCENARIOS[scenario](dev, *args)
    finally:
        fido_dev_close(dev)
    result["writes"] = io.writes
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
