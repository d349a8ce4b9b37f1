# `qkd-secoc she`: the SHE key update calculator. `update` builds M1..M5 for
# a key update, `verify` checks given M1..M5 against the authorising key.
# The protocol itself lives in keyagent.crypto.she; this module only parses and
# prints.
import argparse

from host_tools.args import hex_bytes, int_in
from host_tools.errors import UserError

_UPDATE_EXAMPLE = """\
example (the published SHE example):
  qkd-secoc she update --uid 000000000000000000000000000001 --key-id 4 \\
      --auth-id 1 --counter 1 --flags 0 \\
      --auth-key 000102030405060708090a0b0c0d0e0f \\
      --new-key 0f0e0d0c0b0a09080706050403020100
  M1 00000000000000000000000000000141
  M2 2b111e2d93f486566bcbba1d7f7a9797c94643b050fc5d4d7de14cff682203c3
  M3 b9d745e5ace7d41860bc63c2b9f5bb46
  M4 00000000000000000000000000000141b472e8d8727d70d57295e74849a27917
  M5 820d8d95dc11b4668878160cb2a4e23e

flags: 0x10 write protection, 0x08 boot protection, 0x04 debugger
protection, 0x02 key usage, 0x01 wildcard (UID 0 may not update the key).
Keys (K1..K4) are printed only with --show-keys.
"""

_VERIFY_EXAMPLE = """\
example:
  qkd-secoc she verify --auth-key 000102030405060708090a0b0c0d0e0f \\
      --m1 00000000000000000000000000000141 \\
      --m2 2b111e2d93f486566bcbba1d7f7a9797c94643b050fc5d4d7de14cff682203c3 \\
      --m3 b9d745e5ace7d41860bc63c2b9f5bb46 \\
      --m4 00000000000000000000000000000141b472e8d8727d70d57295e74849a27917 \\
      --m5 820d8d95dc11b4668878160cb2a4e23e
  M1 ok uid=000000000000000000000000000001 key-id=4 auth-id=1
  M3 ok
  M2 ok counter=1 flags=0x00
  M4 ok
  M5 ok

M2 is opened with the authorising key; the key it carries (or --new-key,
when given) gives K3/K4 for M4/M5. --new-key and --uid add the checks that
M2 and M1 carry them. Exit status 0
when every check passes, 1 when one fails, 2 for a usage error.
"""


def _value(text, option, parse):
    try:
        return parse(text)
    except argparse.ArgumentTypeError as e:
        raise UserError("%s: %s" % (option, e)) from None


def _hex(args, name, length):
    text = getattr(args, name)
    if text is None:
        return None
    return _value(text, "--" + name.replace("_", "-"), hex_bytes(length))


def _int(args, name, lo, hi):
    return _value(getattr(args, name), "--" + name.replace("_", "-"), int_in(lo, hi))


def _print_keys(ks):
    for i in range(4):
        print("K%d %s" % (i + 1, ks[i].hex()))


def run_update(args):
    from keyagent.crypto import she

    uid = _hex(args, "uid", 15)
    key_id = _int(args, "key_id", 0, 15)
    auth_id = _int(args, "auth_id", 0, 15)
    counter = _int(args, "counter", 0, she.COUNTER_MAX)
    flags = _int(args, "flags", 0, 0x1F)
    auth_key = _hex(args, "auth_key", 16)
    new_key = _hex(args, "new_key", 16)
    ms = she.update_messages(uid, key_id, auth_id, auth_key, new_key, counter, flags)
    for i in range(5):
        print("M%d %s" % (i + 1, ms[i].hex()))
    if args.show_keys:
        _print_keys(she.derive_keys(auth_key, new_key))
    return 0


def run_verify(args):
    from keyagent.crypto import she
    from keyagent.crypto.bufops import ct_equal
    from keyagent.crypto.cmac import Cmac

    uid = _hex(args, "uid", 15)
    m1, m2, m3 = _hex(args, "m1", 16), _hex(args, "m2", 32), _hex(args, "m3", 16)
    m4, m5 = _hex(args, "m4", 32), _hex(args, "m5", 16)
    if (m4 is None) != (m5 is None):
        raise UserError("--m4 and --m5 go together")
    auth_key = _hex(args, "auth_key", 16)
    expected_key = _hex(args, "new_key", 16)
    failed = 0

    def report(name, ok, detail):
        nonlocal failed
        failed += 0 if ok else 1
        print("%s %s%s" % (name, "ok" if ok else "FAIL", detail))

    key_id, auth_id = m1[15] >> 4, m1[15] & 0x0F
    detail = " uid=%s key-id=%d auth-id=%d" % (m1[0:15].hex(), key_id, auth_id)
    if uid is not None and m1[0:15] != uid:
        detail += " (differs from --uid)"
    report("M1", uid is None or m1[0:15] == uid, detail)

    k1 = she.kdf(auth_key, she.KEY_UPDATE_ENC_C)
    k2 = she.kdf(auth_key, she.KEY_UPDATE_MAC_C)
    m3_ok = ct_equal(Cmac(k2).digest(m1 + m2), m3, 16)
    report("M3", m3_ok, "" if m3_ok else " CMAC(K2, M1|M2) differs: wrong --auth-key or altered M1/M2")
    counter, flags, key = she.decrypt_m2(k1, m2)
    key = bytes(key)
    detail = " counter=%d flags=0x%02x" % (counter, flags)
    m2_ok = m3_ok
    if not m3_ok:
        detail += " (not authentic)"
    if expected_key is not None and not ct_equal(key, expected_key, 16):
        m2_ok = False
        detail += " key differs from --new-key"
    report("M2", m2_ok, detail)

    # M4/M5 prove the receiver holds the new key: take it from --new-key
    # when given, else from M2 when M2 is authentic.
    answer_key = expected_key if expected_key is not None else key
    ks = she.derive_keys(auth_key, answer_key)
    if m4 is not None and expected_key is None and not m3_ok:
        report("M4", False, " not checked: M2 is not authentic and no --new-key given")
        report("M5", False, " not checked: M2 is not authentic and no --new-key given")
    elif m4 is not None:
        expect = she.build_m4(m1[0:15], key_id, auth_id, ks[2], counter)
        wildcard = m1[0:15] == she.WILDCARD_UID
        same_uid = m4[0:15] == m1[0:15] or wildcard
        m4_ok = same_uid and ct_equal(m4[15:32], expect[15:32], 17)
        report("M4", m4_ok, "" if m4_ok else " not UID|IDs|AES(K3, counter|1) for this M1/M2")
        m5_ok = Cmac(ks[3]).verify(m4, m5)
        report("M5", m5_ok, "" if m5_ok else " CMAC(K4, M4) differs")
    if args.show_keys:
        print("NEWKEY %s" % key.hex())
        _print_keys(ks)
    return 1 if failed else 0


def add_subparser(subparsers):
    parser = subparsers.add_parser(
        "she",
        help="SHE key update calculator (M1..M5)",
        description="The SHE key update protocol (HIS SHE CMD_LOAD_KEY): build or check M1..M5.",
        epilog=_UPDATE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="she_command", metavar="ACTION", required=True)

    up = sub.add_parser(
        "update",
        help="build M1..M5 for a key update",
        description="Build the SHE key update messages M1..M5 and print them, one line each.",
        epilog=_UPDATE_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    up.add_argument("--uid", required=True, help="the ECU's 15-byte UID in hex (all zero: wildcard)")
    up.add_argument("--key-id", required=True, help="slot to load, 0..15 (4 = KEY_1)")
    up.add_argument("--auth-id", required=True, help="slot of the authorising key, 0..15 (1 = MASTER_ECU_KEY)")
    up.add_argument("--counter", required=True, help="28-bit update counter, must exceed the stored one")
    up.add_argument("--flags", required=True, help="5 key flags, 0..0x1f")
    up.add_argument("--auth-key", required=True, help="the authorising key, 16 bytes hex")
    up.add_argument("--new-key", required=True, help="the key to load, 16 bytes hex")
    up.add_argument("--show-keys", action="store_true", help="also print K1..K4")
    up.set_defaults(func=run_update)

    ver = sub.add_parser(
        "verify",
        help="check given M1..M5 against the authorising key",
        description="Check SHE key update messages M1..M3 (and the answer M4/M5) against the keys.",
        epilog=_VERIFY_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ver.add_argument("--m1", required=True, help="16 bytes hex")
    ver.add_argument("--m2", required=True, help="32 bytes hex")
    ver.add_argument("--m3", required=True, help="16 bytes hex")
    ver.add_argument("--m4", help="32 bytes hex (the receiver's answer)")
    ver.add_argument("--m5", help="16 bytes hex (the receiver's answer)")
    ver.add_argument("--auth-key", required=True, help="the authorising key, 16 bytes hex")
    ver.add_argument("--new-key", help="the key M2 should carry, 16 bytes hex")
    ver.add_argument("--uid", help="the UID M1 should carry, 15 bytes hex")
    ver.add_argument("--show-keys", action="store_true", help="also print the key in M2 and K1..K4")
    ver.set_defaults(func=run_verify)
