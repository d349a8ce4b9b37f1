# `qkd-secoc module console`: exact output against a served module pair,
# keys only with --show-keys, refusals (exit 1) and unopenable ports (exit 2).
import uuid

import pytest

from emulator.module_uart_server import ModuleUartServer
from emulator.qkd_pair import ModulePair
from host_tools.cli import main


@pytest.fixture
def served():
    pair = ModulePair(seed=11, max_key_count=8)
    pair.fill()
    server = ModuleUartServer(pair, use_pty=True, tcp_port=0).start()
    yield pair, server
    server.stop()


def run(capsys, *argv):
    code = main(["module", "console"] + list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_status_keys_link(served, capsys):
    pair, server = served
    port = server.ends["A"]["pty"]
    st = pair.status("A")
    qber = "QBER: %.2f %%\n" % (round(st["qber"] * 1e6) / 1e4)
    rate = "secret key rate: %d bit/s\n" % int(st["secret_key_rate_bps"])
    assert run(capsys, port) == (0, "module at %s, protocol 1\nlink: up\n" % port + qber + rate
                                 + "key pool: 8 of 8 keys of 256 bits (100.0 %)\n"
                                 + "frames rejected: module 0, console 0\n", "")
    assert run(capsys, port, "keys") == (0, "key pool: 8 of 8 keys of 256 bits (100.0 %)\n", "")
    pair.set_eavesdrop(0.6)
    code, out, _ = run(capsys, server.ends["B"]["tcp"], "link", "--timeout-ms", "300")
    assert code == 0
    assert out.splitlines()[0] == "link: ALARM: QBER above the abort threshold, no keys issued"


def test_keys_by_id_shown_only_on_request(served, capsys):
    pair, server = served
    a, b = server.ends["A"]["pty"], server.ends["B"]["tcp"]
    code, master_out, err = run(capsys, a, "get-key", "--new")
    assert (code, err) == (0, "")
    id_line, key_line = master_out.splitlines()
    assert key_line == "key: 256 bits (hidden; --show-keys prints it)"
    key_id = id_line[len("key ID: "):]
    uuid.UUID(key_id)
    code, out, _ = run(capsys, b, "get-key", "--id", key_id, "--show-keys")
    key = out.splitlines()[1][len("key: "):]
    assert (code, out.splitlines()[0], len(key)) == (0, id_line, 64)
    assert key not in master_out  # printed only where --show-keys asked for it
    code, out, err = run(capsys, b, "get-key", "--id", uuid.UUID(key_id).hex)
    assert (code, out, err) == (1, "", "error: module refused: key ID unknown (status 0x80)\n")


def test_stream_open_get_close(served, capsys):
    _, server = served
    a, b = server.ends["A"]["tcp"], server.ends["B"]["pty"]
    code, out, _ = run(capsys, a, "open", "--source", "ecu", "--destination", "rsu", "--chunk", "16")
    ksid = out.splitlines()[0][len("key stream: "):]
    assert (code, out) == (0, "key stream: %s\nkey size: 128 bits, waiting for the peer to open it\n" % ksid)
    assert run(capsys, b, "open", "--ksid", ksid) == (
        0, "key stream: %s\nkey size: 128 bits, peer connected\n" % ksid, "")
    code_a, out_a, _ = run(capsys, a, "get-key", "--stream", ksid, "--index", "3", "--show-keys")
    code_b, out_b, _ = run(capsys, b, "get-key", "--stream", ksid, "--index", "3", "--show-keys")
    assert (code_a, code_b) == (0, 0) and out_a == out_b
    assert out_a.splitlines()[:2] == ["key stream: " + ksid, "index: 3"]
    assert len(out_a.splitlines()[3]) == len("key: ") + 32
    assert run(capsys, a, "close", "--ksid", ksid) == (0, "closed %s\n" % ksid, "")
    assert run(capsys, a, "close", "--ksid", ksid) == (
        1, "", "error: module refused: KSID unknown (status 0x82)\n")


def test_port_that_does_not_open(capsys, tmp_path):
    missing = str(tmp_path / "nothing")
    assert run(capsys, missing) == (2, "", "error: cannot open %s: No such file or directory\n" % missing)


def test_no_answer_after_retries(capsys, tmp_path):
    import socket

    with socket.socket() as quiet:  # accepts, never answers
        quiet.bind(("127.0.0.1", 0))
        quiet.listen(1)
        url = "socket://127.0.0.1:%d" % quiet.getsockname()[1]
        assert run(capsys, url, "keys", "--timeout-ms", "20", "--retries", "1") == (
            1, "", "error: no answer from the module at %s (2 tries, 20 ms each)\n" % url)


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as e:
        main(["module", "console", "/dev/null", "get-key", "--id", "abcd"])
    assert e.value.code == 2
    assert "expected 16 bytes of hex" in capsys.readouterr().err
