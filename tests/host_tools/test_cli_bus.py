# `qkd-secoc bus serve` and `qkd-secoc --version`.
import socket
import subprocess
import sys
import time

import can
import pytest

from host_tools.cli import main


def test_version_names_the_installed_package(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == "qkd-secoc %s\n" % version("qkd-secoc")


def test_bus_serve_on_a_port_in_use_is_one_error_line(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        assert main(["bus", "serve", "--port", str(taken.getsockname()[1]), "--seconds", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot serve the bus on 127.0.0.1:") and err.count("\n") == 1


@pytest.mark.parametrize("bad", ["70000", "-1", "http"])
def test_bus_serve_rejects_a_bad_port(bad, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["bus", "serve", "--port", bad])
    assert exit_.value.code == 2
    assert "argument --port" in capsys.readouterr().err


def test_two_python_can_clients_share_the_served_bus():
    proc = subprocess.Popen([sys.executable, "-m", "host_tools.cli", "bus", "serve", "--port", "0",
                             "--seconds", "20"], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # socketcand bus server on 127.0.0.1:PORT channel can0
        assert line.startswith("socketcand bus server on 127.0.0.1:"), line
        port = int(line.split(":")[1].split()[0])
        kwargs = dict(interface="qkd_socketcand", host="127.0.0.1", port=port, channel="can0")
        with can.Bus(**kwargs) as tx, can.Bus(**kwargs) as rx:
            deadline = time.monotonic() + 10
            got = None
            while got is None and time.monotonic() < deadline:
                tx.send(can.Message(arbitration_id=0x123, data=b"\x01\x02", is_extended_id=False))
                got = rx.recv(0.5)
        assert got is not None and got.arbitration_id == 0x123 and bytes(got.data) == b"\x01\x02"
    finally:
        proc.terminate()
        proc.wait(10)
