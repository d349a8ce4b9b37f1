# The `qkd-secoc` command: one parser, one small module per subcommand under
# host_tools.commands, each with add_subparser(subparsers) that sets
# `func` on its parser (the layout of cantools' subparsers). Subcommand
# modules import heavy dependencies inside their functions so that
# `qkd-secoc --help` stays fast.
import argparse
import importlib
import sys

from host_tools.errors import UserError

# Module names under host_tools.commands, in the order --help lists them.
COMMANDS = (
    "mac",
    "she",
    "module",
    "bus",
    "emulate",
    "campaign",
    "monitor",
    "trace",
    "flash",
    "provision",
    "network",
    "corridor",
    "ota",
)


def version():
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version("qkd-secoc")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="qkd-secoc",
        description="Quantum-keyed AUTOSAR SecOC: calculator, emulator, module and bench tools.",
        epilog="examples:\n"
               "  qkd-secoc emulate scenarios/default.toml      # the virtual vehicle\n"
               "  qkd-secoc mac verify --profile 1 --key KEY --data-id 0x123 --fv 1 --pdu HEX\n"
               "  qkd-secoc module serve --pty                  # emulated QKD modules\n"
               "\n'qkd-secoc COMMAND --help' tells more about each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    parser.add_argument("--version", action="version", version="%(prog)s " + version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module("host_tools.commands." + name).add_subparser(sub)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args) or 0
    except UserError as e:
        if args.debug:
            raise
        print("error: %s" % e, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`qkd-secoc ... | head`): not an error of ours.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
