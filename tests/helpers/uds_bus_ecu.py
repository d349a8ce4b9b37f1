# One ECU's OTA service (keyagent.ota.service) on a python-can bus, in a
# thread: what udsoncan and `qkd-secoc ota push` talk to in the tests. The
# agent is a real KeyAgent (its epoch for the epoch DID); the flash is a
# MemoryFs. Stops by itself after `limit_s`.
import os
import threading
import time

import can

from keyagent.agent import KeyAgent
from keyagent.ota.service import diag_service
from keyagent.storage import MemoryStorage
from keyagent.unix.memfs import MemoryFs

CLUSTERS = [{"id": 1, "members": [0, 3], "pdus": [
    {"name": "m3", "can_id": 0x103, "data_id": 0x103, "length": 4, "profile": 1, "fv_bits": 32, "sender": 3}]}]


def node_config(node, auth_key, ota_keys):
    return {"node": node, "role": "slave", "module": False, "auth_key": auth_key.hex(),
            "ota_keys": dict((k, v.hex()) for k, v in ota_keys.items()), "clusters": CLUSTERS}


class BusEcu:
    def __init__(self, bus_kwargs, config, board="unix", arch="py", fs=None, running=None,
                 version="1.0.0", limit_s=60.0):
        self.bus = can.Bus(**bus_kwargs)
        self.fs = fs if fs is not None else MemoryFs()
        self.agent = KeyAgent(config, MemoryStorage())
        self.resets = 0
        self.ep = diag_service(config, self.agent, self.fs, os.urandom, self._reset, running, version,
                               board, arch)
        self.limit_s = limit_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _reset(self):
        self.resets += 1

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self.bus.shutdown()

    def _run(self):
        start = time.monotonic()
        ep = self.ep
        while not self._stop.is_set() and time.monotonic() - start < self.limit_s:
            msg = self.bus.recv(0.002)
            now = int((time.monotonic() - start) * 1000)
            if msg is not None and msg.arbitration_id == ep.rx_id and not msg.is_error_frame:
                ep.on_frame(bytes(msg.data), now)
            ep.poll(now)
            for can_id, data, fd in ep.pop_frames():
                self.bus.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False, is_fd=fd))
