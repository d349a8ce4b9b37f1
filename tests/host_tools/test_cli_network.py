# `qkd-secoc network serve`: a bounded run prints one HTTPS port per KME and
# the links; bad descriptions and arguments are one error: line.
import os
import re

from host_tools.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NETWORK = os.path.join(ROOT, "scenarios", "network.toml")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_serve_prints_every_kme_and_link(capsys, tmp_path):
    code, out, err = run(capsys, "network", "serve", NETWORK, "--certs", str(tmp_path / "pki"), "--duration", "0")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "test PKI written to %s (one certificate per SAE)" % (tmp_path / "pki")
    kmes = [line for line in lines if line.startswith("KME ")]
    assert len(kmes) == 9 and re.fullmatch(r"KME depot: https://localhost:\d+ SAEs vehicle-1, vehicle-2, vehicle-3",
                                           kmes[0])
    assert len({line.split()[2] for line in kmes}) == 9  # one port each
    assert "link depot-node-1: 15.0 km, QBER 3.30 %, 284968 bit/s, up" in lines
    assert lines[-1] == "stopped: 0 keys issued, 0 relayed over 0 hops, 0 fetched, 0 refused"
    assert os.path.isfile(tmp_path / "pki" / "rsu-4.crt")


def test_bad_descriptions_are_one_error_line(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    for text, message in (("[[kme]]\nname = 'a'\n[[link]]\nbetween = ['a', 'b']\nkm = 1\n",
                           "error: link between must name two different KMEs, not ['a', 'b']\n"),
                          ("key_size = 'x'\n", "error: key_size must be a positive integer\n"),
                          ("[[kme\n", None)):
        bad.write_text(text)
        code, out, err = run(capsys, "network", "serve", str(bad), "--certs", str(tmp_path / "pki"))
        assert code == 2 and out == "" and err.count("\n") == 1 and err.startswith("error: ")
        if message:
            assert err == message
