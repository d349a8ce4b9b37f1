# `qkd-secoc flash` and `provision` against a real MicroPython unix-port
# instance on a pty (tests/unix_board.py), driven by mpremote's transport:
# the flashed .mpy files import and compute there, agent.json reads back.
import json
import os

import pytest

import secoc_trace_builder as B
from host_tools import board_link
from host_tools.board_link import BoardLink
from host_tools.cli import main
from host_tools.commands.flash import FIRMWARE, TOP_LEVEL, firmware_files
from keyagent.crypto.cmac import aes_cmac
from unix_board import UnixBoard

BOARD = {"format": 1, "board": "UNIX_X64", "mpy_march": "x64",
         "module_uart": {"id": 3, "tx_pin": "-", "rx_pin": "-", "baudrate": 57600}}


@pytest.fixture
def boards(tmp_path):
    d = tmp_path / "boards" / "UNIX_X64"
    d.mkdir(parents=True)
    (d / "board.json").write_text(json.dumps(BOARD))
    return str(tmp_path / "boards")


@pytest.fixture
def board(tmp_path):
    root = tmp_path / "fs"
    root.mkdir()
    with UnixBoard(root) as b:
        yield b


def _flash(board, boards):
    return main(["flash", "UNIX_X64", "--port", board.port, "--boards", boards])


def test_flash_copies_mpy_that_runs_on_the_board(board, boards, capsys):
    # stale files of an earlier flash: a .py would shadow its new .mpy
    os.makedirs(os.path.join(board.root, "keyagent"))
    for stale in ("cmac.py", "gone.mpy"):
        with open(os.path.join(board.root, "keyagent", stale), "w") as f:
            f.write("raise ImportError('stale')\n")
    assert _flash(board, boards) == 0
    n = len(firmware_files())
    top_level = [name for name in TOP_LEVEL if os.path.isfile(os.path.join(FIRMWARE, name))]
    assert top_level == ["boot.py", "main.py"]
    copied = _mpy_bytes(board.root) + sum(os.path.getsize(os.path.join(board.root, t)) for t in top_level)
    port = board.port
    assert capsys.readouterr() == (
        "compiled %d modules for UNIX_X64 (mpy-cross -march=x64)\n"
        "copied %d files, %d bytes, to %s\n"
        "wrote board.json\n"
        "checked: import keyagent.secoc.engine on the board\n" % (n, n + len(top_level), copied, port), "")
    on_board = sorted(os.path.relpath(os.path.join(top, f), board.root)
                      for top, _, files in os.walk(board.root) for f in files)
    assert on_board == sorted(["board.json"] + top_level + [dest for _, dest in firmware_files()])
    with open(os.path.join(board.root, "board.json")) as f:
        assert json.load(f) == BOARD
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    msg = bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")
    with BoardLink(port) as link:
        out = link.exec("import keyagent\nfrom keyagent.crypto.cmac import aes_cmac\n"
                        "print(keyagent.__file__)\nprint(aes_cmac(%r, %r).hex())" % (key, msg))
    assert out.decode().split() == ["keyagent/__init__.mpy", aes_cmac(key, msg).hex()]
    assert aes_cmac(key, msg).hex() == "070a16b46b4d4144f79bdd9dd04a287c"  # RFC 4493 example 2


def _mpy_bytes(root):
    return sum(os.path.getsize(os.path.join(root, dest)) for _, dest in firmware_files())


def test_provision_writes_agent_json_and_prints_no_key(board, boards, tmp_path, capsys):
    assert _flash(board, boards) == 0
    capsys.readouterr()
    cfg = tmp_path / "gateway.json"
    cfg.write_text(json.dumps(B.CONFIG))
    assert main(["provision", "--port", board.port, "--config", str(cfg)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == ("node 0 (master), clusters 1, 2 PDUs, 2 SHE authentication keys, module port uart:3@57600\n"
                   "wrote agent.json to %s\n" % board.port)
    for key in B.AUTH.values():
        assert key.hex() not in out
    with open(os.path.join(board.root, "agent.json")) as f:
        written = json.load(f)
    assert written == dict(B.CONFIG, module_port={"kind": "uart", "id": 3, "baudrate": 57600})
    assert not os.path.exists(os.path.join(board.root, "agent.json.tmp"))


def test_provision_slave_with_module_port_on_a_bare_board(board, tmp_path, capsys):
    slave = {"node": 2, "role": "slave", "module": True, "auth_key": B.AUTH[2].hex(),
             "clusters": B.CONFIG["clusters"], "timing": B.CONFIG["timing"]}
    cfg = tmp_path / "slave2.json"
    cfg.write_text(json.dumps(slave))
    assert main(["provision", "--port", board.port, "--config", str(cfg),
                 "--module-port", "tcp:127.0.0.1:7001"]) == 0
    assert capsys.readouterr().out == (
        "node 2 (slave), clusters 1, 2 PDUs, 1 SHE authentication key, module port tcp:127.0.0.1:7001\n"
        "wrote agent.json to %s\n" % board.port)
    with open(os.path.join(board.root, "agent.json")) as f:
        assert json.load(f) == dict(slave, module_port={"kind": "tcp", "host": "127.0.0.1", "port": 7001})
    # without --module-port and no board.json on the board: told what to do
    assert main(["provision", "--port", board.port, "--config", str(cfg)]) == 2
    assert capsys.readouterr().err == (
        "error: %s: no board.json with a module_uart on the board: give --module-port or run "
        "qkd-secoc flash first\n" % board.port)


def test_flash_for_another_architecture_fails_the_import_check(board, tmp_path, capsys):
    # An armv7emsp build (an STM32 board's) does not load on the x64 unix port.
    d = tmp_path / "arm" / "CORTEX_M4"
    d.mkdir(parents=True)
    (d / "board.json").write_text(json.dumps(dict(BOARD, board="CORTEX_M4", mpy_march="armv7emsp")))
    assert main(["flash", "CORTEX_M4", "--port", board.port, "--boards", str(tmp_path / "arm")]) == 2
    assert capsys.readouterr() == ("", "error: %s: import keyagent.secoc.engine (built for armv7emsp) failed: "
                                       "ValueError: incompatible .mpy arch\n" % board.port)


def test_user_mistakes(board, boards, tmp_path, capsys, monkeypatch):
    cfg = tmp_path / "bad.json"
    bad = json.loads(json.dumps(B.CONFIG))
    bad["slaves"][1]["auth_key"] = "00112233445566778899aabbccddeeXX"
    cfg.write_text(json.dumps(bad))
    short = tmp_path / "short.json"
    bad["slaves"][1]["auth_key"] = "0011"
    short.write_text(json.dumps(bad))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(B.CONFIG))
    missing = str(tmp_path / "no-such-tty")
    cases = [
        (["flash", "NOPE", "--port", board.port, "--boards", boards],
         "error: unknown board NOPE (known: UNIX_X64)\n"),
        (["flash", "UNIX_X64", "--port", missing, "--boards", boards],
         "error: cannot open %s: no such device\n" % missing),
        (["provision", "--port", board.port, "--config", str(cfg)],
         "error: %s: auth_key of node 2 is not hex\n" % cfg),
        (["provision", "--port", board.port, "--config", str(short)],
         "error: %s: auth_key of node 2 must be 16 bytes\n" % short),
        (["provision", "--port", board.port, "--config", str(tmp_path / "gone.json")],
         "error: cannot read configuration %s: No such file or directory\n" % (tmp_path / "gone.json")),
        (["provision", "--port", board.port, "--config", str(good), "--module-port", "com7"],
         "error: --module-port com7: expected uart:ID[@BAUD], tcp:HOST:PORT or a device path\n"),
    ]
    for argv, expected in cases:
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == ""
        assert err == expected
    # a port that opens but has no MicroPython behind it
    import pty

    m, s = pty.openpty()
    monkeypatch.setattr(board_link, "ENTER_TIMEOUT_S", 0.5)
    try:
        assert main(["flash", "UNIX_X64", "--port", os.ttyname(s), "--boards", boards]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: %s: no MicroPython raw REPL (" % os.ttyname(s)) and err.count("\n") == 1
    finally:
        os.close(m)
        os.close(s)


def test_mpremote_command_sees_the_flashed_files(board, boards, capsys):
    # The stock mpremote command on the same unix-port board (with `resume`:
    # the unix port has a raw REPL but no soft reset).
    import subprocess
    import sys

    assert _flash(board, boards) == 0
    mpremote = os.path.join(os.path.dirname(sys.executable), "mpremote")
    proc = subprocess.run([mpremote, "connect", board.port, "resume", "fs", "ls", ":keyagent"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    listed = sorted(line.split()[-1] for line in proc.stdout.splitlines()[1:] if line.strip())
    expected = {dest.split("/")[1] + ("/" if dest.count("/") > 1 else "") for _, dest in firmware_files()}
    assert listed == sorted(expected)
    assert "unix/" not in listed  # unix-only modules never reach a board
