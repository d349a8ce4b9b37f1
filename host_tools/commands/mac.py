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
