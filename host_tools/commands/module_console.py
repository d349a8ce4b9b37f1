# `qkd-secoc module console PORT [QUERY]`: talk to an optical module over its
# UART link (docs/optical-module-protocol.md) with the firmware's own client:
# status, key pool, link state and alarms, keys by stream or by ID. PORT is
# anything pyserial's serial_for_url opens: a device, a pty, socket://HOST:PORT.
import argparse
import uuid

from host_tools.args import hex_bytes, int_in
from host_tools.errors import UserError

EPILOG = """examples:
  qkd-secoc module serve --pty --prefill        # prints the pty of each end
  qkd-secoc module console /dev/pts/5            # status of end A
  qkd-secoc module console /dev/pts/5 get-key --new --show-keys
  qkd-secoc module console socket://127.0.0.1:7001 get-key --id 3f2504e0-4f89-41d3-9a0c-0305e82c3301
  qkd-secoc module console /dev/pts/5 open --source ecu --destination rsu
  qkd-secoc module console /dev/pts/5 get-key --stream KSID --index 0

Keys are shown only with --show-keys. Exit status: 0 done, 1 the module
refused or did not answer, 2 a usage error or a port that does not open.
"""

LINK_TEXT = {
    0: "up",
    1: "ALARM: QBER above the abort threshold, no keys issued",
    2: "no key rate: the link distils no key",
    3: "peer module disconnected",
    4: "this module is unplugged",
}


def key_id_arg(text):
    """A 16-byte key ID: 32 hex digits or a UUID (ETSI GS QKD 014 key_ID)."""
    try:
        return uuid.UUID(text.strip()).bytes
    except ValueError:
        return hex_bytes(16)(text)


def add_console_parser(module_subparsers):
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--baud", type=int_in(300, 4000000), default=argparse.SUPPRESS,
                        help="UART speed (default 115200)")
    common.add_argument("--timeout-ms", type=int_in(1, 60000), default=argparse.SUPPRESS,
                        help="wait this long for each answer (default 500)")
    common.add_argument("--retries", type=int_in(0, 10), default=argparse.SUPPRESS,
                        help="send an unanswered request again this many times (default 3)")
    console = module_subparsers.add_parser(
        "console", parents=[common], help="query an optical module over its UART",
        description="Query a QKD optical module over its UART link: status, key pool, link state "
                    "and alarms; fetch a key by ETSI 004 stream or by ETSI 014 key ID.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    console.add_argument("port", metavar="PORT", help="serial device, pty, or socket://HOST:PORT")
    queries = console.add_subparsers(dest="query", metavar="QUERY")
    for name, text in (("status", "link, key pool and counters (the default)"),
                       ("keys", "the key pool"), ("link", "link state, QBER, key rate, alarm")):
        queries.add_parser(name, parents=[common], help=text, description=text)
    get = queries.add_parser("get-key", parents=[common], help="fetch a key by ID, stream or a new one",
                             description="Fetch one key: by ETSI 014 key ID (as a slave), "
                                         "a new one with its ID (as a master), or from an ETSI 004 stream.")
    which = get.add_mutually_exclusive_group(required=True)
    which.add_argument("--id", type=key_id_arg, metavar="KEY_ID", help="key ID, UUID or 32 hex digits")
    which.add_argument("--new", action="store_true", help="a new key (GET_NEW_KEY)")
    which.add_argument("--stream", type=hex_bytes(16), metavar="KSID", help="key_stream_ID from `open`")
    get.add_argument("--index", type=int_in(0, 0xFFFFFFFF), default=0, help="key index in the stream")
    get.add_argument("--bits", type=int_in(8, 512), default=256, help="size of a --new key (default 256)")
    get.add_argument("--show-keys", action="store_true", help="print the key bytes")
    op = queries.add_parser("open", parents=[common], help="open an ETSI 004 key stream",
                            description="OPEN_CONNECT: open a key stream (or join the peer's with --ksid).")
    op.add_argument("--source", default="", help="this application's URI (up to 32 bytes)")
    op.add_argument("--destination", default="", help="the peer application's URI (up to 32 bytes)")
    op.add_argument("--ksid", type=hex_bytes(16), help="join this key_stream_ID")
    op.add_argument("--chunk", type=int_in(1, 64), default=32, help="key size in bytes (default 32)")
    cl = queries.add_parser("close", parents=[common], help="close an ETSI 004 key stream")
    cl.add_argument("--ksid", type=hex_bytes(16), required=True, help="key_stream_ID")
    # After every argument, so these defaults win over the subparsers' own.
    console.set_defaults(func=run_console, query="status", baud=115200, timeout_ms=500, retries=3,
                         show_keys=False)
    return console


class SerialPort:
    """A pyserial port as a module-link port (read_into, write, wait)."""

    def __init__(self, ser):
        self.ser = ser
        ser.timeout = 0
        self._fileno = ser.fileno() if hasattr(ser, "fileno") else None

    def wait(self, timeout_ms):
        import select

        if self._fileno is None:
            return True  # read_into polls with the port's timeout
        return bool(select.select([self._fileno], [], [], timeout_ms / 1000 if timeout_ms >= 0 else None)[0])

    def read_into(self, buf):
        data = self.ser.read(len(buf))
        buf[: len(data)] = data
        return len(data)

    def write(self, data):
        self.ser.write(data)


def open_link(port, baud, timeout_ms, retries):
    import serial

    from keyagent.hal.module_sync import ModuleLink, random_seq
    from keyagent.optical.client import ModuleClient

    try:
        ser = serial.serial_for_url(port, baudrate=baud, timeout=0)
    except (serial.SerialException, OSError, ValueError) as e:
        raise UserError("cannot open %s: %s" % (port, _reason(e))) from None
    client = ModuleClient(timeout_ms=timeout_ms, retries=retries, first_seq=random_seq())
    return ModuleLink(SerialPort(ser), client)


def _reason(e):
    # pyserial nests the OS error in its message: keep the innermost text.
    text = (str(e).strip() or type(e).__name__).splitlines()[0]
    at = text.rfind("[Errno ")
    if at >= 0:
        text = text[text.find("] ", at) + 2:]
        quoted = text.find(": '")
        text = text[:quoted] if quoted > 0 else text
    return text


def run_console(args, out=None):
    import sys

    out = out or sys.stdout
    link = open_link(args.port, args.baud, args.timeout_ms, args.retries)
    try:
        lines = QUERIES[args.query](link, args)
    except _Refused as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    finally:
        link.port.ser.close()
    for line in lines:
        print(line, file=out)
    return 0


class _Refused(Exception):
    pass


def _checked(link, args, r):
    from keyagent.optical import link as ml

    if r.local:
        raise _Refused("no answer from the module at %s (%d tries, %d ms each)"
                       % (args.port, args.retries + 1, args.timeout_ms))
    if not r.ok():
        raise _Refused("module refused: %s (status %s)" % (ml.STATUS_NAMES.get(r.status, "unknown"),
                                                           r.status if r.status < 0x80 else hex(r.status)))
    return r


def _pool(info):
    share = 100.0 * info.stored_keys / info.max_keys if info.max_keys else 0.0
    return "key pool: %d of %d keys of %d bits (%.1f %%)" % (info.stored_keys, info.max_keys,
                                                           info.key_size_bits, share)


def _link(info):
    return ["link: %s" % LINK_TEXT.get(info.link_state, "state %d" % info.link_state),
            "QBER: %.2f %%" % (info.qber_ppm / 1e4),
            "secret key rate: %d bit/s" % info.key_rate_bps]


def q_status(link, args):
    info = _checked(link, args, link.status()).info
    rx = link.client.rx
    return (["module at %s, protocol %d" % (args.port, info.version)] + _link(info) + [_pool(info)]
            + ["frames rejected: module %d, console %d" % (info.rx_rejected, rx.rejected())])


def q_keys(link, args):
    return [_pool(_checked(link, args, link.status()).info)]


def q_link(link, args):
    return _link(_checked(link, args, link.status()).info)


def _key_lines(r, args, key_id):
    lines = ["key ID: %s" % uuid.UUID(bytes=bytes(key_id))]
    if args.show_keys:
        lines.append("key: %s" % bytes(r.key).hex())
    else:
        lines.append("key: %d bits (hidden; --show-keys prints it)" % (8 * len(r.key)))
    return lines


def q_get_key(link, args):
    if args.id is not None:
        r = _checked(link, args, link.get_key_by_id(args.id))
        return _key_lines(r, args, args.id)
    if args.new:
        if args.bits % 8:
            raise UserError("--bits must be a multiple of 8")
        r = _checked(link, args, link.get_new_key(args.bits))
        return _key_lines(r, args, r.key_id)
    r = _checked(link, args, link.get_key(args.stream, args.index))
    return ["key stream: %s" % args.stream.hex(), "index: %d" % r.index] + _key_lines(r, args, r.key_id)


def q_open(link, args):
    from keyagent.optical.client import QoS

    try:
        r = _checked(link, args, link.open_connect(args.source, args.destination,
                                                   QoS(key_chunk_size=args.chunk), args.ksid))
    except ValueError as e:
        raise UserError(str(e)) from None
    peer = "peer connected" if r.status == 0 else "waiting for the peer to open it"
    return ["key stream: %s" % r.ksid.hex(), "key size: %d bits, %s" % (8 * r.key_chunk_size, peer)]


def q_close(link, args):
    _checked(link, args, link.close(args.ksid))
    return ["closed %s" % args.ksid.hex()]


QUERIES = {"status": q_status, "keys": q_keys, "link": q_link, "get-key": q_get_key,
           "open": q_open, "close": q_close}
