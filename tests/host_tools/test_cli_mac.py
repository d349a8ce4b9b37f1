# `qkd-secoc mac`: exact output, exit codes, and one-line errors.
from cryptography.hazmat.primitives.cmac import CMAC
from cryptography.hazmat.primitives.ciphers import algorithms

from host_tools.cli import main

KEY = "2b7e151628aed2a6abf7158809cf4f3c"


def reference_mac(data):
    # An independent CMAC (the cryptography package's), not the firmware's.
    c = CMAC(algorithms.AES(bytes.fromhex(KEY)))
    c.update(data)
    return c.finalize()


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_protect_profile1(capsys):
    code, out, _ = run(capsys, "mac", "protect", "--profile", "1", "--key", KEY,
                       "--data-id", "0x123", "--fv", "1", "--payload", "11223344")
    expected = "11223344" + "01" + reference_mac(bytes.fromhex("0123112233440" + "1"))[:3].hex()
    assert (code, out) == (0, expected + "\n")


def test_protect_profile3_fd_pads(capsys):
    code, out, _ = run(capsys, "mac", "protect", "--profile", "3", "--key", KEY, "--data-id", "5",
                       "--fv", "0x1234", "--payload", "00" * 9, "--fd")
    mac = reference_mac(bytes.fromhex("0005" + "00" * 9 + "0000000000001234"))
    word = (0x4 << 28) | (int.from_bytes(mac[:4], "big") >> 4)
    assert (code, out) == (0, "00" * 9 + word.to_bytes(4, "big").hex() + "00" * 3 + "\n")


def test_verify_ok_and_failures(capsys):
    mac = reference_mac(bytes.fromhex("0007" + "cafe" + "0005"))[:3].hex()
    pdu = "cafe" + "05" + mac
    args = ["mac", "verify", "--profile", "1", "--key", KEY, "--data-id", "7", "--fv-bits", "16"]
    assert run(capsys, *args, "--fv", "5", "--pdu", pdu) == (0, "cafe\n", "")
    # Authentic, but with a value older than the one the receiver expects.
    assert run(capsys, *args, "--fv", "6", "--pdu", pdu)[:2] == (1, "stale_freshness\n")
    other_id = ["mac", "verify", "--profile", "1", "--key", KEY, "--data-id", "8", "--fv-bits", "16"]
    assert run(capsys, *other_id, "--fv", "5", "--pdu", pdu)[:2] == (1, "mac_mismatch\n")
    tampered = pdu[:-1] + ("0" if pdu[-1] != "0" else "1")
    assert run(capsys, *args, "--fv", "5", "--pdu", tampered)[:2] == (1, "mac_mismatch\n")
    assert run(capsys, *args, "--fv", "5", "--pdu", "")[:2] == (1, "malformed_length\n")


def test_profile2_roundtrip(capsys):
    _, pdu, _ = run(capsys, "mac", "protect", "--profile", "2", "--key", KEY, "--data-id", "9",
                    "--payload", "0102")
    assert pdu.strip() == "0102" + reference_mac(bytes.fromhex("00090102"))[:3].hex()
    assert run(capsys, "mac", "verify", "--profile", "2", "--key", KEY, "--data-id", "9",
               "--pdu", pdu.strip()) == (0, "0102\n", "")


def test_user_errors_are_one_line(capsys):
    code, out, err = run(capsys, "mac", "protect", "--profile", "1", "--key", KEY, "--data-id", "1",
                         "--fv", "1", "--payload", "1122334455")
    assert (code, out) == (2, "")
    assert err == "error: secured PDU of 9 bytes does not fit a classic CAN frame\n"
    code, out, err = run(capsys, "mac", "protect", "--profile", "1", "--key", KEY, "--data-id", "1",
                         "--fv", "300", "--payload", "11")
    assert err == "error: --fv 300 does not fit in 8 bits\n"


def test_bad_hex_key_is_an_argparse_error(capsys):
    try:
        main(["mac", "protect", "--profile", "1", "--key", "xyz", "--data-id", "1", "--payload", "00"])
    except SystemExit as e:
        assert e.code == 2
    err = capsys.readouterr().err
    assert err.splitlines()[-1] == "qkd-secoc mac protect: error: argument --key: not a hex string: 'xyz'"
    assert KEY not in err


def test_key_is_never_printed(capsys):
    _, out, err = run(capsys, "mac", "protect", "--profile", "1", "--key", KEY, "--data-id", "1",
                      "--fv", "1", "--payload", "00")
    assert KEY not in out + err


def test_fv_0_is_computed_with_a_warning(capsys):
    # Published SecOC vectors use FV 0: the calculator computes and checks
    # it, and says that the agent itself never sends it.
    for profile, fv_bytes, mac_len in (("1", 1, 3), ("3", 8, 4)):
        code, out, err = run(capsys, "mac", "protect", "--profile", profile, "--key", KEY,
                             "--data-id", "0x123", "--fv", "0", "--payload", "11223344")
        mac = reference_mac(bytes.fromhex("012311223344") + bytes(fv_bytes))[:mac_len]
        assert code == 0 and err == "warning: --fv 0: the agent never sends freshness value 0 (its " \
                                    "counters start at 1); computed anyway\n"
        if profile == "1":
            assert out == "11223344" + "00" + mac.hex() + "\n"
        code, back, _ = run(capsys, "mac", "verify", "--profile", profile, "--key", KEY,
                            "--data-id", "0x123", "--fv", "0", "--pdu", out.strip())
        assert (code, back) == (0, "11223344\n")
    code, out, _ = run(capsys, "mac", "verify", "--profile", "1", "--key", KEY, "--data-id", "0x123",
                       "--fv", "1", "--pdu", "1122334400" + reference_mac(bytes.fromhex("01231122334400"))[:3].hex())
    assert (code, out) == (1, "stale_freshness\n")  # FV 0's frame, expecting 1
