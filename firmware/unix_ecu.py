# One ECU as a MicroPython unix-port process (or CPython, for debugging) on
# an emulated bus: it joins the bus server over socketcand and runs the key
# agent's main loop (keyagent.node).
#
#   micropython firmware/unix_ecu.py --config NODE.json --bus HOST:PORT
#       [--module HOST:PORT] [--storage FILE] [--duration S] [--status S]
#       [--ota DIR]
#
# --config   the node's JSON configuration (docs/rekey-protocol.md)
# --bus      the socketcand bus server (`python -m emulator.bus_server`)
# --module   the optical module's byte stream over TCP (a direct slave or
#            the master); a gateway slave has none
# --storage  a JSON file for what survives a reboot (trip counter, epoch);
#            without it nothing persists
# --duration run this many seconds, then print a last status and exit 0
# --status   seconds between status lines (default 1)
# --ota      the folder that plays the board's flash for updates over UDS
#            (docs/ota.md): the agent starts from its active slot, and an
#            ECUReset ends the process with exit status 3 ("reset"), for
#            whoever runs it to start it again
# A bad argument or a bus that does not answer: one `error:` line, exit 2.
#
# Both runtimes put the script's directory (firmware/) first on sys.path, so
# `keyagent` imports without MICROPYPATH.
import json
import sys

USAGE = ("usage: unix_ecu.py --config NODE.json --bus HOST:PORT [--module HOST:PORT]"
         " [--storage FILE] [--duration S] [--status S] [--ota DIR]")
_OPTIONS = ("--config", "--bus", "--module", "--storage", "--duration", "--status", "--ota")
BOARD = "unix"  # what an image for this process names as its board
EXIT_RESET = 3


class Reset(Exception):
    pass


class UsageError(Exception):
    pass


def out(line):
    sys.stdout.write(line + "\n")
    if hasattr(sys.stdout, "flush"):
        sys.stdout.flush()


def fail(message):
    sys.stderr.write("error: %s\n" % message)
    sys.exit(2)


def parse_args(argv):
    opts = {}
    i = 0
    while i < len(argv):
        name = argv[i]
        if name in ("-h", "--help"):
            out(USAGE)
            sys.exit(0)
        if name not in _OPTIONS:
            raise UsageError("unknown argument %s" % name)
        if i + 1 >= len(argv):
            raise UsageError("%s needs a value" % name)
        opts[name[2:]] = argv[i + 1]
        i += 2
    for name in ("config", "bus"):
        if name not in opts:
            raise UsageError("--%s is required" % name)
    opts["bus"] = host_port(opts["bus"], "--bus")
    if "module" in opts:
        opts["module"] = host_port(opts["module"], "--module")
    opts["duration"] = seconds(opts.get("duration"), "--duration")
    opts["status"] = seconds(opts.get("status", "1"), "--status")
    if "ota" in opts:
        import os

        try:
            is_dir = os.stat(opts["ota"])[0] & 0x4000
        except OSError:
            is_dir = False
        if not is_dir:
            raise UsageError("--ota must name an existing folder, not %r" % opts["ota"])
    return opts


def host_port(text, name):
    host, sep, port = text.rpartition(":")
    try:
        port = int(port)
    except ValueError:
        port = -1
    if not sep or not host or not 0 < port < 65536:
        raise UsageError("%s must be HOST:PORT, not %r" % (name, text))
    return host, port


def seconds(text, name):
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UsageError("%s must be a positive number of seconds, not %r" % (name, text))
    return value


def load_config(path):
    try:
        with open(path) as f:
            config = json.load(f)
    except OSError:
        raise UsageError("cannot read config %s" % path)
    except ValueError:
        raise UsageError("config %s is not valid JSON" % path)
    if not isinstance(config, dict) or "node" not in config or config.get("role") not in ("master", "slave"):
        raise UsageError("config %s needs \"node\" and \"role\" (master or slave)" % path)
    return config


def reset():
    raise Reset()


def main(argv):
    try:
        opts = parse_args(argv)
        config = load_config(opts["config"])
    except UsageError as e:
        fail("%s (see --help)" % e)
    if "ota" in opts:
        from keyagent.ota.boot import runtime_arch, start_slot
        from keyagent.ota.fs import OsFs

        arch = runtime_arch()  # .mpy images for it, or source ("py")
        slot, version = start_slot(OsFs(opts["ota"]), config, BOARD, arch, opts["ota"] + "/")
        out("keyagent: slot %s version %s" % (slot or "built-in", version or "-"))
    from keyagent.agent import KeyAgent
    from keyagent.hal.ticks import ticks_ms
    from keyagent.unix.socketcand_can import SocketcandCan
    from keyagent.unix.socketcand_client import SocketcandClient
    from keyagent.node import Node, PortStream
    from keyagent.storage import FileStorage, MemoryStorage
    module = stream = None
    if "module" in opts:
        from keyagent.unix.module_stream import StreamPort, connect_tcp
        from keyagent.hal.module_sync import random_seq
        from keyagent.optical.client import ModuleClient

        host, port = opts["module"]
        try:
            stream = PortStream(StreamPort(connect_tcp(host, port)))
        except OSError as e:
            fail("module %s:%d does not answer (%s)" % (host, port, e))
        # A random first sequence number per session (docs/optical-module-protocol.md).
        module = ModuleClient(first_seq=random_seq())
    storage = FileStorage(opts["storage"]) if "storage" in opts else MemoryStorage()
    try:
        agent = KeyAgent(config, storage, module)
    except (KeyError, ValueError, TypeError) as e:
        fail("config %s: %s %s" % (opts["config"], type(e).__name__, e))
    host, port = opts["bus"]
    client = SocketcandClient(host, port, b"can0", timeout_ms=2000)
    try:
        client.connect()
    except OSError as e:
        fail("bus %s:%d does not answer (%s)" % (host, port, e))
    diag = None
    if "ota" in opts:
        import os

        from keyagent.ota.fs import OsFs
        from keyagent.ota.service import running_service

        diag = running_service(config, agent, OsFs(opts["ota"]), os.urandom, reset, BOARD, arch)
    node = Node(agent, config, SocketcandCan(client), ticks_ms, module=stream, out=out,
                status_ms=int(opts["status"] * 1000), diag=diag)
    duration = opts["duration"]
    try:
        node.run(None if duration is None else int(duration * 1000))
    except KeyboardInterrupt:
        node.status()
    except Reset:
        node.status()
        out("keyagent: reset")
        return EXIT_RESET
    except OSError as e:
        node.status()
        sys.stderr.write("error: bus or module link lost (%s)\n" % e)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
