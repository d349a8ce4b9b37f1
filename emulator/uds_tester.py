# The tester's side of an update over UDS (docs/ota.md): udsoncan's client
# runs the programming sequence against one ECU. The connection beneath is
# any udsoncan connection: can-isotp over a python-can bus for `qkd-secoc ota
# push`, or the emulator's virtual-time ISO-TP (emulator.ota).
#
#   client = open_client(connection, k_diag)
#   program(client, image, progress)   # session, SecurityAccess, erase,
#                                      # download, check, activate, reset
#   read_info(client)                  # {"version", "boot", "slot", "epoch", "floor"}
import logging

import udsoncan
from udsoncan.client import Client
from udsoncan.common.MemoryLocation import MemoryLocation
from udsoncan.services import DiagnosticSessionControl, ECUReset

from keyagent.crypto.cmac import Cmac
from keyagent.ota.service import DID_BOOT, DID_EPOCH, DID_FLOOR, DID_SLOT, DID_VERSION
from keyagent.uds.server import RID_ACTIVATE, RID_CHECK, RID_ERASE

DIDS = {"version": DID_VERSION, "boot": DID_BOOT, "slot": DID_SLOT, "epoch": DID_EPOCH, "floor": DID_FLOOR}
SECURITY_LEVEL = 1


class _Bytes(udsoncan.DidCodec):
    # A DID read whole, as bytes.
    def encode(self, value):
        return bytes(value)

    def decode(self, payload):
        return bytes(payload)

    def __len__(self):
        raise udsoncan.DidCodec.ReadAllRemainingData


def open_client(connection, k_diag, p2_s=1.0, p2_star_s=6.0, request_timeout_s=30.0):
    # A udsoncan Client (not yet opened) that answers SecurityAccess seeds
    # with AES-CMAC(K_diag, seed); k_diag None: SecurityAccess unavailable.
    config = dict(udsoncan.configs.default_client_config)
    mac = Cmac(k_diag) if k_diag is not None else None
    config.update({
        "security_algo": lambda level, seed, params: mac.digest(bytes(seed)),
        "data_identifiers": dict((did, _Bytes) for did in DIDS.values()),
        "p2_timeout": p2_s, "p2_star_timeout": p2_star_s, "request_timeout": request_timeout_s,
        "use_server_timing": False,
    })
    # Refusals are the caller's to report (an `error:` line, the summary),
    # not udsoncan's warnings on stderr.
    logging.getLogger("UdsClient").setLevel(logging.CRITICAL)
    return Client(connection, config=config)


def program(client, image, progress=None):
    # The whole update; udsoncan raises NegativeResponseException (with the
    # NRC in .response.code) when the ECU refuses a step. progress(done,
    # total) after every TransferData. Returns the block size used.
    client.change_session(DiagnosticSessionControl.Session.programmingSession)
    client.unlock_security_access(SECURITY_LEVEL)
    client.start_routine(RID_ERASE)
    loc = MemoryLocation(address=0, memorysize=len(image), address_format=32, memorysize_format=32)
    resp = client.request_download(loc)
    block = resp.service_data.max_length - 2  # SID and counter
    counter = 1
    for off in range(0, len(image), block):
        client.transfer_data(counter & 0xFF, image[off:off + block])
        counter += 1
        if progress is not None:
            progress(min(off + block, len(image)), len(image))
    client.request_transfer_exit()
    client.start_routine(RID_CHECK)
    client.start_routine(RID_ACTIVATE)
    client.ecu_reset(ECUReset.ResetType.hardReset)
    return block


def read_info(client):
    out = {}
    for name, did in DIDS.items():
        value = client.read_data_by_identifier(did).service_data.values[did]
        out[name] = int.from_bytes(value, "big") if name in ("epoch", "floor") else value.decode()
    if out["epoch"] == 0xFFFFFFFF:
        out["epoch"] = None
    return out
