# python-fido2 0.9.1 talking to the simulated key over UDP loopback, the SoloKeys way: a
# CtapHidConnection whose packets are datagrams. python-fido2's own CTAPHID framing (INIT, nonce
# check, channel check, keepalives, sequence numbers) is then exercised against the simulator.
# Runs only under /usr/bin/python3 (Debian's python3-fido2).
import socket

from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor


class UdpCtapHidConnection(CtapHidConnection):
    def __init__(self, host, port, timeout=15.0):
        self.peer = (host, port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(timeout)

    def write_packet(self, data):
        if len(data) != 64:
            raise ValueError("a report is 64 bytes, not %d" % len(data))
        self.sock.sendto(bytes(data), self.peer)

    def read_packet(self):
        while True:
            data, sender = self.sock.recvfrom(2048)
            if sender == self.peer:
                return data

    def close(self):
        self.sock.close()


def open_device(port, host="127.0.0.1"):
    return CtapHidDevice(HidDescriptor("sim", 0x1209, 1, 64, 64), UdpCtapHidConnection(host, port))
