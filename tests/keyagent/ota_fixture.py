# Shared by the OTA and UDS firmware tests (both runtimes): a node's keys,
# images for it, and a UDS server on a MemoryFs driven request by request.
from keyagent.crypto.cmac import Cmac
from keyagent.ota import image as I
from keyagent.unix.memfs import MemoryFs
from keyagent.ota.slots import SlotStore
from keyagent.ota.updater import Updater
from keyagent.uds.security import SecurityAccess, diag_key
from keyagent.uds.server import UdsServer

NODE = 3
BOARD = "NUCLEO_F446RE"
ARCH = "armv7emsp"
QKD_KEY = bytes(range(32))
KEY_ID = "8a0c6f1e-0000-4000-8000-00000000002a"
K_AUTH = bytes(range(100, 116))
K_UPDATE = I.update_key(QKD_KEY, NODE, KEY_ID)
KEYS = {KEY_ID: K_UPDATE}


def files(version, n=3, size=700):
    # Deterministic agent files that differ per version.
    out = []
    for i in range(n):
        name = "keyagent/mod%d.mpy" % i if i else "keyagent/__init__.mpy"
        seed = (sum(version.encode()) + i * 31) & 0xFF
        out.append((name, bytes((seed + j * 7) & 0xFF for j in range(size + i * 13))))
    return out


def make_image(version="1.1.0", node=NODE, key=None, board=BOARD, arch=ARCH, content=None):
    # Tagged under `node`'s own update key unless another key is given.
    return I.build(content or files(version), version, board, arch, node, KEY_ID,
                   I.update_key(QKD_KEY, node, KEY_ID) if key is None else key)


class Rig:
    # A node's slots and UDS server; the random source counts up so that
    # seeds are distinct and reproducible.
    def __init__(self, fs=None, running=None, version="1.0.0", keys=None):
        self.fs = fs if fs is not None else MemoryFs()
        self._n = 0
        self.store = SlotStore(self.fs, KEYS if keys is None else keys, NODE, BOARD, ARCH)
        self.updater = Updater(self.store, running, version)
        self.security = SecurityAccess(diag_key(K_AUTH, NODE), self.random)
        self.server = UdsServer(self.security, self.updater, {0xF195: lambda: version.encode()})
        self.now = 0

    def random(self, n):
        self._n += 1
        return bytes((self._n + i) & 0xFF for i in range(n))

    def ask(self, req):
        # One request; a 0x78 is followed by the response poll() gives.
        self.now += 1
        resp = self.server.handle(bytes(req), self.now)
        if resp is not None and resp[0] == 0x7F and resp[2] == 0x78:
            resp = self.server.poll(self.now)
        return resp

    def unlock(self, session=2):
        assert self.ask([0x10, session])[0] == 0x50
        seed = self.ask([0x27, 1])[2:]
        return self.ask(bytes([0x27, 2]) + Cmac(diag_key(K_AUTH, NODE)).digest(seed))

    def push(self, img, block=1024):
        # The whole programming sequence; returns the first negative response
        # (or None when every step was positive).
        steps = [[0x31, 1, 0xFF, 0x00], [0x34, 0, 0x44, 0, 0, 0, 0] + list(len(img).to_bytes(4, "big"))]
        for req in steps:
            resp = self.ask(req)
            if resp[0] == 0x7F:
                return resp
        counter = 1
        for off in range(0, len(img), block):
            resp = self.ask(bytes([0x36, counter & 0xFF]) + img[off:off + block])
            if resp[0] == 0x7F:
                return resp
            counter += 1
        for req in ([0x37], [0x31, 1, 0x02, 0x02], [0x31, 1, 0xFF, 0x01]):
            resp = self.ask(req)
            if resp[0] == 0x7F:
                return resp
        return None
