# `qkd-secoc module certs|serve`: exact output, files and permissions,
# one-line errors, and a bounded serve that a third-party ETSI 014 client
# draws keys from.
import os
import re
import signal
import stat
import subprocess
import sys

import pytest

from host_tools.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAIR_LINE = ("module pair: 25.0 km at 0.20 dB/km, mu 0.484, QBER 3.31 %, secret key rate 178825 bit/s, "
             "link up, pool 50/50 keys of 256 bits\n")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("cli-pki"))
    assert main(["module", "certs", d, "--sae", "rsu", "--sae", "car"]) == 0
    return d


def test_certs_writes_the_pki_with_private_keys_0600(capsys, tmp_path):
    d = str(tmp_path / "pki")
    code, out, err = run(capsys, "module", "certs", d, "--sae", "rsu-1", "--sae", "car.7")
    assert (code, err) == (0, "")
    assert out == ("CA:  {d}/ca.crt\n"
                   "KME: {d}/kme.crt {d}/kme.key (127.0.0.1, localhost)\n"
                   "SAE rsu-1: {d}/rsu-1.crt {d}/rsu-1.key\n"
                   "SAE car.7: {d}/car.7.crt {d}/car.7.key\n").format(d=d)
    assert sorted(os.listdir(d)) == ["ca.crt", "car.7.crt", "car.7.key", "kme.crt", "kme.key",
                                     "rsu-1.crt", "rsu-1.key"]
    for name in ("kme.key", "rsu-1.key", "car.7.key"):
        assert stat.S_IMODE(os.stat(os.path.join(d, name)).st_mode) == 0o600


def test_certificates_carry_the_sae_id_and_the_server_names(capsys, tmp_path):
    import ipaddress

    from cryptography import x509
    from cryptography.x509.oid import NameOID

    d = str(tmp_path)
    run(capsys, "module", "certs", d, "--sae", "car")
    with open(os.path.join(d, "car.crt"), "rb") as f:
        car = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(d, "kme.crt"), "rb") as f:
        kme = x509.load_pem_x509_certificate(f.read())
    with open(os.path.join(d, "ca.crt"), "rb") as f:
        ca = x509.load_pem_x509_certificate(f.read())
    assert car.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "car"
    san = kme.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    car.verify_directly_issued_by(ca)
    kme.verify_directly_issued_by(ca)


def test_certs_refuses_to_replace_a_pki_without_force(capsys, tmp_path):
    d = str(tmp_path)
    run(capsys, "module", "certs", d, "--sae", "a")
    code, out, err = run(capsys, "module", "certs", d, "--sae", "a")
    assert (code, out, err) == (2, "", "error: %s/ca.crt already exists (use --force to replace the whole PKI)\n" % d)
    assert run(capsys, "module", "certs", d, "--sae", "a", "--force")[0] == 0


@pytest.mark.parametrize("ids,message", [
    (["../x"], "error: SAE ID must be 1-64 letters, digits, '_', '.' or '-': '../x'\n"),
    (["kme"], "error: SAE ID 'kme' clashes with the kme certificate's file name\n"),
    (["a", "a"], "error: each --sae must be different\n"),
])
def test_certs_rejects_bad_sae_ids(capsys, tmp_path, ids, message):
    argv = ["module", "certs", str(tmp_path)]
    for sae_id in ids:
        argv += ["--sae", sae_id]
    assert run(capsys, *argv) == (2, "", message)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("argv,message", [
    ([], "error: nothing to serve: give --rest-port (and --certs, --master-sae, --slave-sae)"
         " and/or --pty, --uart-tcp or --uart-connect\n"),
    (["--rest-port", "0"], "error: --rest-port needs --certs, --master-sae and --slave-sae\n"),
    (["--rest-port", "0", "--certs", "/nonexistent", "--master-sae", "a", "--slave-sae", "b"],
     "error: /nonexistent/ca.crt not found (make it with `qkd-secoc module certs /nonexistent --sae ...`)\n"),
    (["--rest-port", "0", "--certs", "x", "--master-sae", "a", "--slave-sae", "a"],
     "error: --master-sae and --slave-sae must differ\n"),
])
def test_serve_usage_errors(capsys, argv, message):
    assert run(capsys, "module", "serve", *argv) == (2, "", message)


def test_serve_bad_link_parameters_are_one_line_errors(capsys, pki):
    code, out, err = run(capsys, "module", "serve", "--ec-efficiency", "0.5", "--rest-port", "0",
                         "--certs", pki, "--master-sae", "rsu", "--slave-sae", "car")
    assert (code, out, err) == (2, "", "error: ec_efficiency must be >= 1\n")


def test_serve_runs_for_its_duration_and_stops_cleanly(capsys, pki):
    code, out, err = run(capsys, "module", "serve", "--rest-port", "0", "--certs", pki, "--master-sae", "rsu",
                         "--slave-sae", "car", "--max-keys", "50", "--prefill", "--duration", "0.2")
    assert (code, err) == (0, "")
    out = re.sub(r"localhost:\d+/", "localhost:PORT/", out)
    assert out == (PAIR_LINE
                   + "ETSI 014 KME: https://localhost:PORT/api/v1/keys/{SAE_ID}/(status|enc_keys|dec_keys)\n"
                   + "  master SAE rsu (end A), slave SAE car (end B), CA %s/ca.crt\n" % pki
                   + "serving for 0.2 s\n"
                   + "stopped: 0 keys issued, 0 fetched by ID, 50 keys in the pool\n")


def test_serve_process_gives_keys_to_an_etsi_client_and_stops_on_sigterm(pki):
    from etsi_qkd_014_client import QKD014Client

    # A 1 Hz pulse rate: the pool does not refill while the test runs.
    proc = subprocess.Popen(
        [sys.executable, "-m", "host_tools", "module", "serve", "--rest-port", "0", "--certs", pki,
         "--master-sae", "rsu", "--slave-sae", "car", "--max-keys", "50", "--prefill", "--duration", "120",
         "--pulse-rate-hz", "1"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("serving"):
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            lines.append(line)
        port = int(re.search(r"localhost:(\d+)/", "".join(lines)).group(1))
        rsu = QKD014Client("localhost:%d" % port, pki + "/rsu.crt", pki + "/rsu.key", pki + "/ca.crt")
        car = QKD014Client("localhost:%d" % port, pki + "/car.crt", pki + "/car.key", pki + "/ca.crt")
        code, container = rsu.get_key("car", number=2, size=256)
        assert code == 200
        code, fetched = car.get_key_with_key_IDs("rsu", [k.key_id for k in container.keys])
        assert code == 200 and [k.key for k in fetched.keys] == [k.key for k in container.keys]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert (proc.returncode, err) == (0, "")
    assert out.endswith("stopped: 2 keys issued, 2 fetched by ID, 48 keys in the pool\n")
    for k in container.keys:  # keys are never printed
        assert k.key not in out
