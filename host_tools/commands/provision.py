# `qkd-secoc provision --port PORT --config NODE.json`: write one ECU's
# identity, role, cluster membership, SHE authentication keys and optical
# module port to the board, as agent.json in its filesystem (replaced by
# rename). The keys go to the board only: nothing printed names them.
import argparse
import json
import re
import sys

from host_tools.errors import UserError

AGENT_FILE = "agent.json"

EPILOG = """examples:
  qkd-secoc provision --port /dev/ttyACM0 --config out/run/GATEWAY.json
  qkd-secoc provision --port /dev/ttyACM1 --config brake.json --module-port uart:6@115200
  qkd-secoc provision --port socket://127.0.0.1:2217 --config slave1.json \\
      --module-port tcp:127.0.0.1:7001

NODE.json is a node configuration (docs/rekey-protocol.md): "node", "role"
(master or slave), "module", the clusters and their PDUs, the SHE
authentication keys (a slave's own "auth_key", the master's "slaves"), and
"timing". The optical module port is --module-port: uart:ID[@BAUD] (a
machine.UART), tcp:HOST:PORT (the emulator's module UART server, for the
unix port) or a device path; without it, the module_uart of the board.json
that `qkd-secoc flash` wrote. It is written to agent.json as "module_port".
The keys are written to the board and never printed.
"""


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "provision", help="write an ECU's identity, keys and module port to a board",
        description="Write the node configuration (identity, role, cluster membership, SHE "
                    "authentication keys, optical module port) to the board as %s." % AGENT_FILE,
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", required=True,
                        help="serial device or pyserial URL of the board's REPL (socket://host:port)")
    parser.add_argument("--baud", dest="baudrate", type=int, default=115200, help="REPL baud rate (default 115200)")
    parser.add_argument("--baudrate", dest="baudrate", type=int, help=argparse.SUPPRESS)  # its old name
    parser.add_argument("--config", required=True, metavar="NODE.json", help="the node configuration")
    parser.add_argument("--module-port", metavar="SPEC",
                        help="optical module port: uart:ID[@BAUD], tcp:HOST:PORT or a device path")
    parser.set_defaults(func=run)


def parse_module_port(spec):
    m = re.fullmatch(r"uart:(\d+)(?:@(\d+))?", spec)
    if m:
        return {"kind": "uart", "id": int(m.group(1)), "baudrate": int(m.group(2) or 115200)}
    m = re.fullmatch(r"tcp:([^:]+):(\d+)", spec)
    if m and 0 < int(m.group(2)) < 65536:
        return {"kind": "tcp", "host": m.group(1), "port": int(m.group(2))}
    if spec.startswith("/"):
        return {"kind": "device", "path": spec}
    raise UserError("--module-port %s: expected uart:ID[@BAUD], tcp:HOST:PORT or a device path" % spec)


def load_node(path):
    """The node configuration, checked: (document, summary words)."""
    from host_tools.observer_inputs import read_json, parse_config

    doc = read_json(path, "configuration")
    pdus, auth, _ = parse_config(doc, path)  # PDUs, hex keys, timing
    node, role = doc.get("node"), doc.get("role")
    if not isinstance(node, int) or not 0 <= node <= 63:
        raise UserError("%s: \"node\" must be 0..63" % path)
    if role == "master":
        if node != 0:
            raise UserError("%s: the master is node 0" % path)
        if not doc.get("slaves"):
            raise UserError("%s: a master needs \"slaves\" with their auth_key" % path)
    elif role == "slave":
        if node == 0:
            raise UserError("%s: slaves are nodes 1..63" % path)
        if "auth_key" not in doc:
            raise UserError("%s: a slave needs its \"auth_key\"" % path)
    else:
        raise UserError("%s: \"role\" must be master or slave" % path)
    clusters = [c["id"] for c in doc["clusters"] if node in c.get("members", [node])]
    return doc, {"node": node, "role": role, "clusters": clusters, "keys": len(auth), "pdus": len(pdus)}


def run(args):
    from host_tools.board_link import BoardLink

    doc, info = load_node(args.config)
    module_port = parse_module_port(args.module_port) if args.module_port else None
    with BoardLink(args.port, args.baudrate) as link:
        if module_port is None and doc.get("module"):
            module_port = _board_module_port(link)
        agent = dict(doc)
        if module_port is not None:
            agent["module_port"] = module_port
        link.write_file_atomic(AGENT_FILE, (json.dumps(agent, indent=1) + "\n").encode())
        # Read it back: the board's json must parse it to the same object.
        echoed = link.exec("import json\nwith open(%r) as f:\n c=json.load(f)\nprint(c['node'], c['role'], "
                           "len(c['clusters']))" % AGENT_FILE)
    if echoed.decode().split() != [str(info["node"]), info["role"], str(len(doc["clusters"]))]:
        raise UserError("%s: %s read back differently" % (args.port, AGENT_FILE))
    port_text = "none" if module_port is None else _port_text(module_port)
    sys.stdout.write("node %d (%s), clusters %s, %d PDUs, %d SHE authentication key%s, module port %s\n" % (
        info["node"], info["role"], ",".join(str(c) for c in info["clusters"]) or "none", info["pdus"],
        info["keys"], "" if info["keys"] == 1 else "s", port_text))
    sys.stdout.write("wrote %s to %s\n" % (AGENT_FILE, args.port))
    return 0


def _board_module_port(link):
    raw = link.read_file("board.json")
    try:
        uart = json.loads(raw)["module_uart"] if raw is not None else None
        port = {"kind": "uart", "id": int(uart["id"]), "baudrate": int(uart.get("baudrate", 115200))}
    except (ValueError, KeyError, TypeError):
        port = None
    if port is None:
        raise UserError("%s: no board.json with a module_uart on the board: give --module-port "
                        "or run qkd-secoc flash first" % link.port)
    return port


def _port_text(p):
    if p["kind"] == "uart":
        return "uart:%d@%d" % (p["id"], p["baudrate"])
    if p["kind"] == "tcp":
        return "tcp:%s:%d" % (p["host"], p["port"])
    return p["path"]
