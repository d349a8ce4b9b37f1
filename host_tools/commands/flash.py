# `qkd-secoc flash BOARD --port PORT`: compile the agent with mpy-cross for
# the board's architecture (boards/<BOARD>/board.json, "mpy_march"), copy
# the .mpy files to the board with mpremote's transport, write the board's
# configuration as board.json, and check the agent imports there.
import argparse
import json
import os
import sys
import tempfile

from host_tools.boards import BOARDS, load_board
from host_tools.errors import UserError
from host_tools.manifest import frozen_files
from host_tools.mpy_build import FIRMWARE, compile_module

PACKAGE = "keyagent"
TOP_LEVEL = ("boot.py", "main.py")  # under firmware/, copied as .py when present
CHECK_IMPORT = "keyagent.secoc.engine"  # imports cmac, aes, freshness, frame_mac: the .mpy load

EPILOG = """examples:
  qkd-secoc flash NUCLEO_G474RE --port /dev/ttyACM0
  qkd-secoc flash PYBV11 --port socket://127.0.0.1:2217 --boards my-boards/

The board's folder in --boards (default: the repository's boards/) holds
board.json; its "mpy_march" (e.g. armv7emsp) is the mpy-cross -march. The
firmware package keyagent/ goes to the board's current directory as .mpy
files (stale files of an earlier flash are removed first), boot.py and
main.py from firmware/ when present, then board.json. The board is not
reset: press reset or run `mpremote soft-reset` to start the agent.
"""


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "flash", help="compile the agent for a board and copy it there with mpremote",
        description="Compile firmware/keyagent with mpy-cross for the board's architecture, copy it "
                    "to the board over its raw REPL (mpremote) and write the board configuration.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("board", metavar="BOARD", help="board name: a folder of --boards")
    parser.add_argument("--port", required=True,
                        help="serial device or pyserial URL of the board's REPL (socket://host:port)")
    parser.add_argument("--baud", dest="baudrate", type=int, default=115200, help="REPL baud rate (default 115200)")
    parser.add_argument("--baudrate", dest="baudrate", type=int, help=argparse.SUPPRESS)  # its old name
    parser.add_argument("--boards", default=BOARDS, metavar="DIR", help="board configurations (default boards/)")
    parser.set_defaults(func=run)


def firmware_files():
    """(source path, path on the board) of every module a firmware image freezes."""
    return [(src, dest[:-3] + ".mpy") for src, dest in frozen_files()]


def compile_firmware(march, out_dir):
    """Compile every module; returns [(path on the board, bytes)]."""
    result = []
    for src, dest in firmware_files():
        out = os.path.join(out_dir, dest.replace("/", "_"))
        try:
            compile_module(src, out, march)
        except (RuntimeError, OSError) as e:
            raise UserError("mpy-cross -march=%s %s: %s" % (march, dest, str(e).splitlines()[0])) from None
        with open(out, "rb") as f:
            result.append((dest, f.read()))
    for name in TOP_LEVEL:
        src = os.path.join(FIRMWARE, name)
        if os.path.isfile(src):
            with open(src, "rb") as f:
                result.append((name, f.read()))
    return result


def run(args):
    from host_tools.board_link import BoardLink

    board = load_board(args.board, args.boards)
    march = board["mpy_march"]
    with BoardLink(args.port, args.baudrate) as link:  # a port that does not open fails first
        with tempfile.TemporaryDirectory() as tmp:
            files = compile_firmware(march, tmp)
        link.remove_tree(PACKAGE)
        dirs = sorted({dest.rsplit("/", 1)[0] for dest, _ in files if "/" in dest})
        for d in dirs:
            link.mkdirs(d)
        total = 0
        for dest, data in files:
            link.write_file(dest, data)
            total += len(data)
        link.write_file_atomic("board.json", (json.dumps(board, indent=2) + "\n").encode())
        link.exec("import sys\nfor m in [k for k in sys.modules if k.startswith(%r)]:\n del sys.modules[m]\n"
                  "import %s" % (PACKAGE, CHECK_IMPORT),
                  "import %s (built for %s)" % (CHECK_IMPORT, march))
    out = sys.stdout
    out.write("compiled %d modules for %s (mpy-cross -march=%s)\n" % (
        sum(1 for d, _ in files if d.endswith(".mpy")), args.board, march))
    out.write("copied %d files, %d bytes, to %s\n" % (len(files), total, args.port))
    out.write("wrote board.json\n")
    out.write("checked: import %s on the board\n" % CHECK_IMPORT)
    return 0
