# `qkd-secoc mac protect|verify`: the SecOC calculator, for debugging MAC
# mismatches between ECUs. It runs the firmware's own SecOC engine.
import argparse
import sys

from host_tools.args import hex_bytes, int_in
from host_tools.errors import UserError

EPILOG = """examples:
  qkd-secoc mac protect --profile 1 --key 2b7e151628aed2a6abf7158809cf4f3c \\
      --data-id 0x123 --fv 1 --payload 11223344
  qkd-secoc mac verify --profile 1 --key 2b7e151628aed2a6abf7158809cf4f3c \\
      --data-id 0x123 --fv 1 --pdu 1122334401b184ec

--fv is the complete freshness value; --fv-bits its length (profile 1: 8,
profile 2: 0, profile 3: 64). The key is never printed.

multi-counter freshness (docs/freshness.md): --freshness-layout NAME|FILE
(jaspar, flagless, flag-first; or a file holding the layout text, a node
configuration .json or a .dbc with SecOC_FvLayout) with the counters given
separately instead of --fv:
  qkd-secoc mac protect --profile 3 --key 2b7e151628aed2a6abf7158809cf4f3c \
      --data-id 0x11 --freshness-layout jaspar --trip 1 --reset 1 --msg 1 \
      --payload 01020304
  qkd-secoc mac sync --freshness-layout jaspar --key 2b7e151628aed2a6abf7158809cf4f3c \
      --data-id 0x6f1 --trip 1 --reset 1
"""


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "mac", help="SecOC calculator: protect a payload or verify a secured PDU",
        description="Compute or check an AUTOSAR SecOC secured PDU (AES-128-CMAC).",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    protect = actions.add_parser("protect", help="print the secured PDU of a payload",
                                 epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(protect)
    protect.add_argument("--payload", type=hex_bytes(), required=True, help="authentic PDU, hex")
    protect.set_defaults(func=run_protect)
    verify = actions.add_parser("verify", help="check a secured PDU and print its payload",
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    _common(verify)
    verify.add_argument("--pdu", type=hex_bytes(), required=True, help="secured PDU, hex")
    verify.add_argument("--payload-len", type=int_in(0, 64),
                        help="authentic PDU length, when CAN FD padding follows the MAC")
    verify.set_defaults(func=run_verify)
    sync = actions.add_parser("sync", help="print the freshness sync PDU of a layout",
                              epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sync.add_argument("--key", type=hex_bytes(16), required=True, help="AES-128 key, 32 hex digits")
    sync.add_argument("--data-id", type=int_in(0, 0xFFFF), required=True, help="the sync's 16-bit Data ID")
    _counters(sync, msg=False)
    sync.set_defaults(func=run_sync)


def _common(p):
    p.add_argument("--profile", type=int, choices=(1, 2, 3), required=True, help="SecOC profile")
    p.add_argument("--key", type=hex_bytes(16), required=True, help="AES-128 key, 32 hex digits")
    p.add_argument("--data-id", type=int_in(0, 0xFFFF), required=True, help="16-bit Data ID")
    p.add_argument("--fv", type=int_in(0, (1 << 64) - 1), default=0, help="complete freshness value")
    p.add_argument("--fv-bits", type=int_in(0, 64), help="complete freshness value length in bits")
    p.add_argument("--tx-fv-bits", type=int_in(0, 64), help="truncated FV bits on the wire (custom widths)")
    p.add_argument("--mac-bits", type=int_in(1, 128), help="truncated MAC bits on the wire (custom widths)")
    p.add_argument("--header-bits", type=int, choices=(0, 8, 16), default=0,
                   help="authentic-PDU length header")
    p.add_argument("--fd", action="store_true", help="CAN FD (up to 64 bytes, DLC padding)")
    _counters(p, msg=True)


def _counters(p, msg):
    p.add_argument("--freshness-layout", metavar="NAME|FILE",
                   help="multi-counter freshness layout: counters below instead of --fv")
    p.add_argument("--trip", type=int_in(0, (1 << 64) - 1), help="trip counter (with --freshness-layout)")
    p.add_argument("--reset", type=int_in(0, (1 << 64) - 1), help="reset counter (with --freshness-layout)")
    if msg:
        p.add_argument("--msg", type=int_in(1, (1 << 64) - 1), help="message counter (with --freshness-layout)")


def _widths(args):
    from keyagent.secoc.engine import PROFILES

    fv_bits, tx_bits, mac_bits = PROFILES[args.profile]
    if args.fv_bits is not None:
        fv_bits = args.fv_bits
        tx_bits = min(tx_bits, fv_bits)
    if args.tx_fv_bits is not None:
        tx_bits = args.tx_fv_bits
    if args.mac_bits is not None:
        mac_bits = args.mac_bits
    if args.fv >> fv_bits:
        raise UserError("--fv %d does not fit in %d bits" % (args.fv, fv_bits))
    if fv_bits and args.fv == 0 and not getattr(args, "warned", False):
        # Published vectors use FV 0; the agent's counters start at 1.
        print("warning: --fv 0: the agent never sends freshness value 0 (its counters start at 1); "
              "computed anyway", file=sys.stderr)
        args.warned = True
    return fv_bits, tx_bits, mac_bits


def _endpoint(args, cls, payload_len):
    from keyagent.crypto.cmac import Cmac
    from keyagent.secoc.freshness import CounterFreshness
    from keyagent.secoc.engine import PduLayout

    fv_bits, tx_bits, mac_bits = _widths(args)
    try:
        layout = PduLayout(args.data_id, payload_len, fv_bits, tx_bits, mac_bits,
                           args.header_bits, args.fd)
        endpoint = cls(layout, CounterFreshness(fv_bits, tx_bits) if fv_bits else None)
    except ValueError as e:
        raise UserError(str(e)) from None
    endpoint.key = Cmac(args.key)
    return endpoint


def run_protect(args):
    from keyagent.secoc.engine import SecOCTx

    if args.freshness_layout is not None:
        return _multi(args, SecOCTx, args.payload, len(args.payload))

    tx = _endpoint(args, SecOCTx, len(args.payload))
    if tx.fvm is not None:
        tx.fvm.counter = args.fv - 1  # so that the next value sent is --fv
    out = bytearray(64)
    n = tx.protect(args.payload, len(args.payload), out)
    print(out[:n].hex())
    return 0


def run_verify(args):
    from keyagent.secoc import engine as secoc

    pdu = args.pdu
    if args.freshness_layout is not None:
        return _multi(args, secoc.SecOCRx, pdu, args.payload_len)
    fv_bits, tx_bits, mac_bits = _widths(args)
    plen = args.payload_len
    if plen is None:
        # Without a length header, whatever precedes the authentication bytes.
        plen = len(pdu) - args.header_bits // 8 - (tx_bits + mac_bits + 7) // 8
        if args.header_bits:
            plen = max(plen, 0)
    if plen < 0:
        print(secoc.REASONS[secoc.MALFORMED_LENGTH])
        return 1
    rx = _endpoint(args, secoc.SecOCRx, plen)
    if rx.fvm is not None:
        rx.fvm.last = args.fv - 1  # so that the value expected is --fv
    reason = rx.verify(pdu, len(pdu))
    if reason != secoc.OK:
        print(secoc.REASONS[reason])
        return 1
    print(pdu[rx.payload_off:rx.payload_off + rx.payload_len].hex())
    return 0


# Multi-counter freshness (--freshness-layout): the firmware's own layout,
# sync and freshness code with its counters set to the ones given.

def _layout(args):
    import json

    from keyagent.secoc.fv_layout import NAMED, FreshnessLayout

    text = args.freshness_layout
    if text not in NAMED and "=" not in text:
        try:
            if text.endswith(".dbc"):
                import cantools

                attr = cantools.database.load_file(text).dbc.attributes.get("SecOC_FvLayout")
                if attr is None:
                    raise UserError("%s has no SecOC_FvLayout attribute" % text)
                text = attr.value
            else:
                with open(text) as f:
                    text = f.read()
                if text.lstrip().startswith("{"):
                    text = json.loads(text).get("freshness", {}).get("layout", "jaspar")
        except (OSError, ValueError, AttributeError) as e:
            raise UserError("cannot read freshness layout %s: %s" % (args.freshness_layout, e)) from None
    try:
        return FreshnessLayout(text)
    except ValueError as e:
        raise UserError(str(e)) from None


def _sync_state(args, layout):
    from keyagent.secoc.fv_sync import SyncState

    if args.trip is None or args.reset is None:
        raise UserError("--freshness-layout needs --trip and --reset")
    for name, bits in (("trip", layout.trip_bits), ("reset", layout.reset_bits)):
        if getattr(args, name) >> bits:
            raise UserError("--%s %d does not fit in %d bits" % (name, getattr(args, name), bits))
    sync = SyncState(layout)
    sync.trip, sync.reset, sync.valid = args.trip, args.reset, True
    return sync


def _multi(args, cls, data, payload_len):
    from keyagent.crypto.cmac import Cmac
    from keyagent.secoc import engine as secoc
    from keyagent.secoc.freshness import MultiCounterFreshness

    if args.fv != 0 or args.fv_bits is not None:
        raise UserError("--fv and --fv-bits do not go with --freshness-layout: give --trip --reset --msg")
    layout = _layout(args)
    sync = _sync_state(args, layout)
    if args.msg is None or args.msg >> layout.msg_bits:
        raise UserError("--msg must be 1..%d" % ((1 << layout.msg_bits) - 1))
    _, tx_bits, mac_bits = secoc.PROFILES[args.profile]
    tx_bits = args.tx_fv_bits if args.tx_fv_bits is not None else tx_bits
    mac_bits = args.mac_bits if args.mac_bits is not None else mac_bits
    if payload_len is None:  # verify: whatever precedes the authentication bytes
        payload_len = len(data) - args.header_bits // 8 - (tx_bits + mac_bits + 7) // 8
        if payload_len < 0:
            print(secoc.REASONS[secoc.MALFORMED_LENGTH])
            return 1
    try:
        layout = layout.for_tx_bits(tx_bits)
        pdu_layout = secoc.PduLayout(args.data_id, payload_len, layout.fv_bits, tx_bits, mac_bits,
                                     args.header_bits, args.fd)
        fvm = MultiCounterFreshness(sync, layout)
        endpoint = cls(pdu_layout, fvm)
    except ValueError as e:
        raise UserError(str(e)) from None
    endpoint.key = Cmac(args.key)
    if cls is secoc.SecOCTx:
        fvm.tx_cycle = fvm._cycle(args.trip, args.reset)
        fvm.msg = args.msg - 1  # so that the next value sent carries --msg
        out = bytearray(64)
        n = endpoint.protect(data, len(data), out)
        print(out[:n].hex())
        return 0
    fvm.last = layout.compose(args.trip, args.reset, args.msg - 1)  # so that --msg is expected
    reason = endpoint.verify(data, len(data))
    if reason != secoc.OK:
        print(secoc.REASONS[reason])
        return 1
    print(data[endpoint.payload_off:endpoint.payload_off + endpoint.payload_len].hex())
    return 0


def run_sync(args):
    from keyagent.crypto.cmac import Cmac

    sync = _sync_state(args, _layout(args))
    out = bytearray(8)
    n = sync.build(args.data_id, Cmac(args.key), out)
    print(out[:n].hex())
    return 0
