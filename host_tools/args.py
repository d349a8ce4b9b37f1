# Argument types shared by the subcommands. They raise
# argparse.ArgumentTypeError, which argparse turns into a one-line error.
import argparse


def hex_bytes(length=None):
    """An argparse type: hex text (spaces, colons and a 0x prefix allowed)
    decoded to bytes, of exactly `length` bytes when given."""

    def parse(text):
        clean = text.strip().lower()
        if clean.startswith("0x"):
            clean = clean[2:]
        clean = clean.replace(" ", "").replace(":", "")
        try:
            value = bytes.fromhex(clean)
        except ValueError:
            raise argparse.ArgumentTypeError("not a hex string: %r" % text) from None
        if length is not None and len(value) != length:
            raise argparse.ArgumentTypeError("expected %d bytes of hex, got %d" % (length, len(value)))
        return value

    return parse


def int_in(lo, hi):
    """An argparse type: an integer (decimal or 0x hex) within [lo, hi]."""

    def parse(text):
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError("not an integer: %r" % text) from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError("%d is outside %d..%d" % (value, lo, hi))
        return value

    return parse
