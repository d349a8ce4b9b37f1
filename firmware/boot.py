# Runs before main.py: picks the agent to start (docs/ota.md, "Slots and
# boot"). With no update installed, or when no slot verifies, the agent
# frozen into the firmware runs. Otherwise the chosen slot of /flash/ota
# (its header authenticated under the node's update key, every file's
# SHA-256 checked) goes first on sys.path, so its modules shadow the frozen
# ones; a slot on probation counts this boot, and one that booted too often
# without reaching its normal state is rolled back first. Any error here
# leaves the frozen agent in charge and the REPL reachable, so that
# `qkd-secoc provision` can still fix a broken configuration.
import json


def _start():
    try:
        from keyagent.ota.boot import start_slot
        from keyagent.ota.fs import OsFs
    except ImportError:
        return  # an image without OTA (keyagent/manifest.py, ota=False)
    with open("agent.json") as f:
        cfg = json.load(f)
    with open("board.json") as f:
        board = json.load(f)
    slot, version = start_slot(OsFs(), cfg, board["board"], board["mpy_march"])
    if slot is not None:
        print("keyagent: slot %s version %s" % (slot, version))


try:
    _start()
except Exception as e:  # noqa: BLE001 (nothing here may keep the board from its REPL)
    print("keyagent: ota boot skipped (%s)" % e)
