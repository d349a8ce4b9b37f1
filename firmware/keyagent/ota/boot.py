# Starting the chosen slot (docs/ota.md, "Slots and boot"), for
# firmware/boot.py on a board and for unix_ecu.py: the slot's folder goes
# first on sys.path and the keyagent modules imported so far (from the
# frozen image or the source tree) are forgotten, so that every later import
# of keyagent comes from the slot: the whole agent old or new, never a mix.
import sys

from keyagent.ota.slots import ROOT, SlotStore, ota_keys

# MicroPython's .mpy architectures, by the number in sys.implementation._mpy.
ARCHES = ("", "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
           "xtensa", "xtensawin", "rv32imc", "rv64imc")


def runtime_arch():
    # The .mpy architecture this interpreter runs ("py" under CPython: only
    # source images).
    mpy = getattr(getattr(sys, "implementation", None), "_mpy", None)
    if mpy is None:
        return "py"
    n = (mpy >> 10) & 0x0F
    return ARCHES[n] if 0 < n < len(ARCHES) else "py"


def start_slot(fs, config, board, arch, prefix=""):
    # (slot, version) started, or (None, None): the built-in agent runs.
    store = SlotStore(fs, ota_keys(config), config["node"], board, arch)
    slot, manifest = store.boot()
    if slot is None:
        return None, None
    for name in list(sys.modules):
        if name == "keyagent" or name.startswith("keyagent."):
            del sys.modules[name]
    sys.path.insert(0, prefix + ROOT + "/" + slot)
    return slot, manifest["version"]
