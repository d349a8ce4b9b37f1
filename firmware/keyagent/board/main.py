# Starting the key agent on a board: firmware/main.py calls start().
#
# It reads board.json (the board's CAN controller, bit timing and module
# UART; written by `qkd-secoc flash`) and agent.json (the node's identity,
# role, clusters, SHE authentication keys and module port; written by
# `qkd-secoc provision`), counts the boot in agent_state.json on the flash
# filesystem (with the epoch and SHE counters the agent persists there),
# arms the watchdog and runs keyagent.node's loop. The console gets the
# agent's status lines and, for people and test rigs, `keyagent:` lines:
#   keyagent: boot board=<board> role=<master|slave> boot=<n>
#   keyagent: rekey complete epoch=<n>
#   keyagent: secoc epoch=<n> verified=<v> rejected=<r>
#
# machine, pyb and time are passed in by tests (fakes); on a board they are
# imported here.
import json

from keyagent.status import parse_status
from keyagent.storage import FileStorage

BOARD_JSON = "board.json"
AGENT_JSON = "agent.json"
STATE_JSON = "agent_state.json"
WATCHDOG_MS = 5000


class BootError(Exception):
    """Why the agent cannot start: printed as `keyagent: error ...`."""


def load_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        raise BootError("no %s (%s): %s" % (path, what, "run qkd-secoc flash" if path == BOARD_JSON
                                              else "run qkd-secoc provision"))
    except ValueError:
        raise BootError("%s is not valid JSON" % path)


class Console:
    # Node's output, plus the keyagent: lines.
    def __init__(self, write):
        self.write = write

    def __call__(self, line):
        self.write(line)
        fields = parse_status(line)
        if fields is not None:
            epoch = fields.get("epoch")
            self.write("keyagent: secoc epoch=%s verified=%d rejected=%d"
                       % ("-" if epoch is None else epoch, fields.get("verified") or 0,
                          app_rejections(fields.get("rejected") or {})))
        elif line.startswith("event ") and " epoch_active " in line:
            self.write("keyagent: rekey complete epoch=%s" % line.split()[-1])


def app_rejections(rejected):
    # Application frames rejected, from a status line's {reason: n} (rekey_*
    # and she_* count refused key-management messages, not SecOC frames).
    total = 0
    for reason, n in rejected.items():
        if not reason.startswith("rekey") and not reason.startswith("she"):
            total += n
    return total


def module_stream(cfg, board, machine):
    # The optical module's UART, from agent.json's module_port or the
    # board's module_uart; None for a node without a module.
    if not cfg.get("module"):
        return None
    from keyagent.hal.module_uart import UartPort
    from keyagent.node import PortStream

    port = cfg.get("module_port") or {"kind": "uart", "id": board["module_uart"]["id"],
                                      "baudrate": board["module_uart"]["baudrate"]}
    if port.get("kind") != "uart":
        raise BootError("module_port kind %r: a board has only its UART" % port.get("kind"))
    uart = machine.UART(port["id"], port["baudrate"], timeout=0)
    return PortStream(UartPort(uart))


def ota_endpoint(cfg, agent, board, machine):
    # The UDS server that takes updates over CAN (docs/ota.md), when this
    # image has the OTA packages (keyagent/manifest.py, ota=True).
    try:
        from keyagent.ota.service import running_service
    except ImportError:
        return None
    from keyagent.ota.fs import OsFs

    # SecurityAccess seeds from the agent's random source (os.urandom where
    # the build has it).
    return running_service(cfg, agent, OsFs(), agent.rand, lambda: machine.reset(), board["board"],
                           board["mpy_march"])


def start(machine=None, pyb=None, time=None, out=print, duration_ms=None,
          board_path=BOARD_JSON, agent_path=AGENT_JSON, state_path=STATE_JSON, schedule=None):
    if machine is None:
        import machine
    if time is None:
        import time
    from keyagent.board import config as board_config
    from keyagent.agent import KeyAgent
    from keyagent.hal.can import open_can
    from keyagent.node import Node

    try:
        board = board_config.check(load_json(board_path, "the board"))
        cfg = load_json(agent_path, "the node")
    except (BootError, ValueError) as e:
        out("keyagent: error %s" % e)
        return None
    storage = FileStorage(state_path)
    boots = (storage.get("boots", 0) or 0) + 1
    storage.put("boots", boots)  # the boot (trip) count survives in flash
    if board["firmware"]["can_api"] == "machine.CAN":
        kw = {"machine": machine}
    else:
        kw = {"pyb": pyb, "schedule": schedule}
    can = open_can(board, None, **kw)
    can.stop()  # Node pulls frames with recv(); no receive interrupt needed
    module = None
    stream = module_stream(cfg, board, machine)
    if stream is not None:
        from keyagent.optical.client import ModuleClient

        from keyagent.hal.module_sync import random_seq

        # A random first sequence number per session (the link protocol asks it).
        module = ModuleClient(first_seq=random_seq())
    agent = KeyAgent(cfg, storage, module)
    wdt = machine.WDT(timeout=WATCHDOG_MS)
    out("keyagent: boot board=%s role=%s boot=%d" % (board["board"], cfg["role"], boots))
    node = Node(agent, cfg, can, time.ticks_ms, module=stream, out=Console(out), watchdog=wdt.feed,
                diag=ota_endpoint(cfg, agent, board, machine))
    node.run(duration_ms)
    return node
