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


def float_in(lo, hi):
    """An argparse type: a finite number within [lo, hi] (hi may be inf)."""

    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError("not a number: %r" % text) from None
        if not lo <= value <= hi or value == float("inf"):
            raise argparse.ArgumentTypeError("%s is outside %g..%g" % (text, lo, hi))
        return value

    return parse


fraction = float_in(0.0, 1.0)
non_negative = float_in(0.0, float("inf"))
positive_int = int_in(1, 1 << 62)
port = int_in(0, 65535)


def host_port(text):
    """An argparse type: HOST:PORT -> (host, port)."""
    host, _, num = text.rpartition(":")
    if not host or not num.isdigit() or not 0 < int(num) < 65536:
        raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % text)
    return host, int(num)
