# The OTA service of one node: its UDS server on its diagnostic IDs, wired to
# the A/B slots and to the agent (for the epoch DID and for probation).
# Used by the board's start-up, unix_ecu.py and the emulator's ECUs.
#
#   ep = diag_service(config, agent, fs, os.urandom, reset, running, version,
#                     board, arch)    # a DiagEndpoint, or None
from keyagent.ota.slots import SlotStore, ota_keys
from keyagent.ota.updater import PROBATION_MS, Updater
from keyagent.uds.endpoint import DiagEndpoint, diag_ids
from keyagent.uds.security import SecurityAccess, diag_key
from keyagent.uds.server import UdsServer

FACTORY_VERSION = "1.0.0"  # the agent frozen into the firmware
BOOT_ID = b"qkd-secoc boot 1"
DID_VERSION = 0xF195
DID_BOOT = 0xF180
DID_SLOT = 0xFD01
DID_EPOCH = 0xFD02
DID_FLOOR = 0xFD03


def agent_normal(agent):
    # Keys installed and, for a node that receives PDUs, frames verified.
    if agent.current is None:
        return False
    for pdu in agent.pdus:
        if pdu.rx is not None:
            return agent.verified > 0
    return True


def _u32(n):
    return bytes(((n >> 24) & 0xFF, (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF))


def diag_service(config, agent, fs, random_bytes, reset, running, version, board, arch,
                 probation_ms=PROBATION_MS):
    ids = diag_ids(config)
    if ids is None or "auth_key" not in config:
        return None
    node = config["node"]
    store = SlotStore(fs, ota_keys(config), node, board, arch)
    updater = Updater(store, running, version, probation_ms)
    security = SecurityAccess(diag_key(bytes.fromhex(config["auth_key"]), node), random_bytes,
                              storage=agent.storage)

    def epoch():
        return _u32(agent.current.epoch if agent.current is not None else 0xFFFFFFFF)

    dids = {DID_VERSION: lambda: version.encode(), DID_BOOT: lambda: BOOT_ID,
            DID_SLOT: lambda: (running or "factory").encode(), DID_EPOCH: epoch,
            DID_FLOOR: lambda: _u32(updater.floor())}
    server = UdsServer(security, updater, dids)
    return DiagEndpoint(server, ids[0], ids[1], reset, lambda now: updater.poll(now, agent_normal(agent)))


def running_service(config, agent, fs, random_bytes, reset, board, arch):
    # diag_service for the agent this process runs: its slot from where
    # keyagent was imported, its version from that slot's manifest.
    import keyagent
    from keyagent.ota.slots import running_slot, slot_version

    slot = running_slot(getattr(keyagent, "__file__", ""))
    version = slot_version(fs, slot) if slot is not None else FACTORY_VERSION
    return diag_service(config, agent, fs, random_bytes, reset, slot, version, board, arch)
