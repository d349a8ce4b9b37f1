# `qkd-secoc she update / verify`: exact output against tests/vectors/she.json.
import json
import os

import pytest

from host_tools import cli

VECTORS = os.path.join(os.path.dirname(__file__), "..", "vectors", "she.json")
C = json.load(open(VECTORS))["cases"][0]


@pytest.fixture(autouse=True)
def only_she(monkeypatch):
    # Build the parser from this subcommand alone, so the test does not
    # depend on the other subcommands being present.
    monkeypatch.setattr(cli, "COMMANDS", ("she",))


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def update_args(**over):
    a = dict(C)
    a.update(over)
    return [
        "she", "update", "--uid", a["uid"], "--key-id", str(a["key_id"]), "--auth-id", str(a["auth_id"]),
        "--counter", str(a["counter"]), "--flags", str(a["flags"]),
        "--auth-key", a["auth_key"], "--new-key", a["new_key"],
    ]


def verify_args(**over):
    a = dict(C)
    a.update(over)
    return ["she", "verify", "--auth-key", a["auth_key"], "--m1", a["m1"], "--m2", a["m2"], "--m3", a["m3"],
            "--m4", a["m4"], "--m5", a["m5"]]


def test_update_prints_published_m1_to_m5(capsys):
    code, out, err = run(capsys, *update_args())
    assert code == 0 and err == ""
    assert out == "".join("M%d %s\n" % (i, C["m%d" % i]) for i in range(1, 6))


def test_update_keys_only_when_asked(capsys):
    code, out, _ = run(capsys, *update_args())
    assert C["k1"] not in out and C["auth_key"] not in out and C["new_key"] not in out
    code, out, _ = run(capsys, *(update_args() + ["--show-keys"]))
    assert out.splitlines()[5:] == ["K%d %s" % (i, C["k%d" % i]) for i in range(1, 5)]


def test_update_accepts_hex_numbers_and_separators(capsys):
    code, out, _ = run(capsys, *update_args(key_id="0x4", uid="00:" * 14 + "01"))
    assert code == 0 and out.splitlines()[0] == "M1 " + C["m1"]


def test_verify_published_messages(capsys):
    code, out, err = run(capsys, *verify_args())
    assert code == 0 and err == ""
    assert out == (
        "M1 ok uid=000000000000000000000000000001 key-id=4 auth-id=1\n"
        "M3 ok\n"
        "M2 ok counter=1 flags=0x00\n"
        "M4 ok\n"
        "M5 ok\n"
    )
    assert C["new_key"] not in out


def test_verify_with_uid_and_new_key(capsys):
    code, out, _ = run(capsys, *(verify_args() + ["--uid", C["uid"], "--new-key", C["new_key"]]))
    assert code == 0 and "FAIL" not in out
    code, out, _ = run(capsys, *(verify_args() + ["--new-key", "00" * 16]))
    assert code == 1
    assert out.splitlines()[2] == "M2 FAIL counter=1 flags=0x00 key differs from --new-key"


def test_verify_tampered_m3_and_m5(capsys):
    bad_m3 = C["m3"][:-1] + ("7" if C["m3"][-1] != "7" else "8")
    code, out, _ = run(capsys, *verify_args(m3=bad_m3))
    assert code == 1
    lines = out.splitlines()
    assert lines[1] == "M3 FAIL CMAC(K2, M1|M2) differs: wrong --auth-key or altered M1/M2"
    assert lines[3] == "M4 FAIL not checked: M2 is not authentic and no --new-key given"
    bad_m5 = "00" * 16
    code, out, _ = run(capsys, *verify_args(m5=bad_m5))
    assert code == 1 and out.splitlines()[3:] == ["M4 ok", "M5 FAIL CMAC(K4, M4) differs"]


def test_verify_show_keys(capsys):
    code, out, _ = run(capsys, *(verify_args() + ["--show-keys"]))
    assert out.splitlines()[5:] == ["NEWKEY " + C["new_key"]] + ["K%d %s" % (i, C["k%d" % i]) for i in range(1, 5)]


def test_verify_without_answer(capsys):
    args = verify_args()[:-4]
    code, out, _ = run(capsys, *args)
    assert code == 0 and out.splitlines() == [
        "M1 ok uid=000000000000000000000000000001 key-id=4 auth-id=1", "M3 ok", "M2 ok counter=1 flags=0x00"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (update_args(uid="zz"), "error: --uid: not a hex string: 'zz'\n"),
        (update_args(auth_key="0011"), "error: --auth-key: expected 16 bytes of hex, got 2\n"),
        (update_args(counter=str(1 << 28)), "error: --counter: 268435456 is outside 0..268435455\n"),
        (update_args(flags="x"), "error: --flags: not an integer: 'x'\n"),
        (verify_args()[:-2], "error: --m4 and --m5 go together\n"),
    ],
)
def test_user_errors_are_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and err == message


def test_help_has_example(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["she", "update", "--help"])
    out = capsys.readouterr().out
    assert e.value.code == 0
    assert "qkd-secoc she update --uid 000000000000000000000000000001" in out
    assert "M5 " + C["m5"] in out
