# The module pair served over ptys and TCP (emulator.module_uart_server):
# exact bytes over a raw socket, pyserial over the pty, junk that must not
# stall an end, clean shutdown, and the end-to-end check: a real MicroPython
# unix-port process fetches by key ID the key its master got from the other end.
import json
import os
import socket
import subprocess
import types

import pytest

from emulator.module_uart_server import ModuleUartServer
from host_tools.commands.module import serve_ends
from emulator.qkd_pair import ModulePair
from host_tools.commands.module_console import open_link
from host_tools.errors import UserError
from keyagent.optical import link as ml
from mpy_interpreter import ROOT, micropython
from test_module_link_fuzz import frames_in

VECTORS = os.path.join(ROOT, "tests", "vectors", "module_link_frames.json")

MP_FETCH = """
import sys
sys.path.insert(0, "firmware")
from keyagent.unix.module_stream import open_port
from keyagent.hal.module_sync import ModuleLink
from keyagent.optical.client import ModuleClient
link = ModuleLink(open_port(sys.argv[1]), ModuleClient(timeout_ms=2000, retries=2))
r = link.get_key_by_id(bytes.fromhex(sys.argv[2]))
print("status", r.status)
print("key", r.key.hex())
r = link.get_key_by_id(bytes.fromhex(sys.argv[2]))
print("again", r.status)
"""


@pytest.fixture
def served():
    pair = ModulePair(seed=5, max_key_count=40)
    pair.fill()
    server = ModuleUartServer(pair, use_pty=True, tcp_port=0).start()
    yield pair, server
    server.stop()


def frames_of(data):
    return frames_in(data)[0]


def tcp(url):
    host, port = url[len("socket://"):].rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5)
    return s


def recv_frames(s, count):
    data = b""
    while data.count(0) < count:
        chunk = s.recv(4096)
        assert chunk
        data += chunk
    return frames_of(data)


def test_serve_ends_prints_where_each_end_is(capsys):
    pair = ModulePair(seed=1)
    server = serve_ends(pair, types.SimpleNamespace(pty=True, uart_tcp=0))
    try:
        out = capsys.readouterr().out
        expected = "".join("module end %s: %s\n" % (side, server.ends[side][kind])
                           for side in "AB" for kind in ("pty", "tcp"))
        assert out == expected
        assert server.ends["A"]["pty"].startswith("/dev/pts/")
        assert server.ends["B"]["tcp"].startswith("socket://127.0.0.1:")
    finally:
        server.stop()


def test_status_exact_bytes_over_tcp(served):
    pair, server = served
    status = json.load(open(VECTORS))["status"]
    s = tcp(server.ends["A"]["tcp"])
    with s:
        s.sendall(bytes.fromhex(status["request_wire"]))
        [frame] = recv_frames(s, 1)
    st = pair.status("A")
    body = bytes((0x81, 0, 0, 1, 0)) + (256).to_bytes(2, "big") + (40).to_bytes(4, "big") \
        + (40).to_bytes(4, "big") + round(st["qber"] * 1e6).to_bytes(4, "big") \
        + int(st["secret_key_rate_bps"]).to_bytes(4, "big") + bytes(4)
    assert frame == body


def test_junk_does_not_stall_an_end(served):
    pair, server = served
    s = tcp(server.ends["B"]["tcp"])
    with s:
        s.sendall(b"\x55" * 100000 + b"\x00" + b"\x03\x01\x02\x00" + bytes.fromhex("02010558c223be00"))
        [frame] = recv_frames(s, 1)
        assert frame[:3] == b"\x81\x00\x00"
        assert int.from_bytes(frame[-4:], "big") == 2  # oversize + short, as STATUS reports them
    link = open_link(server.ends["B"]["pty"], 115200, 1000, 2)  # the other transport still works
    assert link.status().info.stored_keys == 40
    link.port.ser.close()


def test_pyserial_master_and_slave(served):
    pair, server = served
    a = open_link(server.ends["A"]["pty"], 115200, 1000, 2)
    b = open_link(server.ends["B"]["tcp"], 115200, 1000, 2)
    try:
        r = a.get_new_key(256)
        s = b.get_key_by_id(r.key_id)
        assert (r.status, s.status, s.key) == (0, 0, r.key)
        assert pair.counters == {"keys_new": 1, "keys_by_id": 1, "keys_expired": 0, "refused": 0}
    finally:
        a.port.ser.close()
        b.port.ser.close()


def test_stop_closes_everything():
    pair = ModulePair(seed=1)
    server = ModuleUartServer(pair, use_pty=True, tcp_port=0).start()
    url = server.ends["A"]["tcp"]
    s = tcp(url)
    server.stop()
    assert not server._thread.is_alive()
    assert s.recv(10) == b""
    s.close()
    with pytest.raises(OSError):
        tcp(url).close()
    server.stop()  # twice is fine


def test_a_taken_port_is_a_user_error():
    pair = ModulePair(seed=1)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match="cannot serve the UART ends on 127.0.0.1:%d" % port):
            serve_ends(pair, types.SimpleNamespace(pty=False, uart_tcp=port))


@pytest.mark.parametrize("transport", ["tcp", "pty"])
def test_micropython_slave_fetches_the_masters_key(served, transport, tmp_path):
    pair, server = served
    master = open_link(server.ends["A"]["pty"], 115200, 1000, 2)
    try:
        r = master.get_new_key(256)
    finally:
        master.port.ser.close()
    assert r.status == 0
    script = tmp_path / "fetch.py"
    script.write_text(MP_FETCH)
    proc = subprocess.run([micropython(), str(script), server.ends["B"][transport], r.key_id.hex()],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    assert proc.stdout.splitlines() == ["status 0", "key " + bytes(r.key).hex(), "again %d" % ml.KEY_ID_UNKNOWN]


def test_end_a_dials_out_to_a_uart_socket_like_renode_s():
    # A listening socket plays Renode's server socket terminal (the master
    # board's module UART); end A connects to it and answers STATUS.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    pair = ModulePair(seed=5, max_key_count=40)
    pair.fill()
    server = serve_ends(pair, types.SimpleNamespace(pty=False, uart_tcp=None,
                                                    uart_connect=listener.getsockname()))
    try:
        board_uart, _ = listener.accept()
        with board_uart:
            board_uart.settimeout(5)
            board_uart.sendall(bytes.fromhex(json.load(open(VECTORS))["status"]["request_wire"]))
            [frame] = recv_frames(board_uart, 1)
        assert frame[:3] == b"\x81\x00\x00"
        assert server.ends["A"]["connected"] == "tcp://127.0.0.1:%d" % listener.getsockname()[1]
    finally:
        server.stop()
        listener.close()


def test_a_uart_socket_that_refuses_is_one_error_line():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nobody listens there now
    with pytest.raises(UserError) as e:
        serve_ends(ModulePair(seed=1), types.SimpleNamespace(pty=False, uart_tcp=None,
                                                             uart_connect=("127.0.0.1", port)))
    assert str(e.value).startswith("cannot serve the UART ends on 127.0.0.1:%d: " % port)


def test_an_end_takes_one_client_at_a_time(served):
    pair, server = served
    status = bytes.fromhex(json.load(open(VECTORS))["status"]["request_wire"])
    first = tcp(server.ends["B"]["tcp"])
    with first:
        first.sendall(status)
        assert recv_frames(first, 1)[0][0] == 0x81
        second = tcp(server.ends["B"]["tcp"])
        with second:  # held by the first client: closed without an answer
            second.sendall(status)
            try:
                assert second.recv(4096) == b""
            except ConnectionResetError:
                pass
        assert server.refused == 1
        first.sendall(status)  # the first client is still served
        assert recv_frames(first, 1)[0][0] == 0x81
    for _ in range(50):  # once it has gone, the end is free again
        third = tcp(server.ends["B"]["tcp"])
        with third:
            third.sendall(status)
            try:
                if third.recv(4096):
                    return
            except ConnectionResetError:
                pass
    raise AssertionError("the end stayed held after its client left")


def test_peer_uid_reads_the_socket_table():
    from emulator.local_peer import peer_uid

    with socket.create_server(("127.0.0.1", 0)) as listener:
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        with client, conn:
            assert peer_uid(conn) == os.getuid()  # this process owns the client end
            port = client.getsockname()[1]
            me = listener.getsockname()[1]
            line = "   3: 0100007F:%04X 0100007F:%04X 01 0:0 0:0 0 1234 0 99" % (port, me)
            assert peer_uid(conn, "header\n" + line) == 1234
            assert peer_uid(conn, "header\n") is None


def test_a_client_of_another_user_is_refused(served, monkeypatch):
    import emulator.module_uart_server as mus

    pair, server = served
    # As if the socket table said another uid owns the client end.
    monkeypatch.setattr(mus, "same_user", lambda conn: False)
    with tcp(server.ends["A"]["tcp"]) as s:
        s.sendall(bytes.fromhex(json.load(open(VECTORS))["status"]["request_wire"]))
        try:
            assert s.recv(4096) == b""
        except ConnectionResetError:
            pass
    assert server.refused == 1
