# What a board image freezes (boards/manifest.py and firmware/keyagent/
# manifest.py), as host_tools.manifest reads it for `qkd-secoc flash` and the
# frozen-size report, and as MicroPython's own tools/manifestfile.py does.
import json
import os
import sys
import tarfile

import pytest

from host_tools.manifest import frozen_files

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENT = os.path.join(ROOT, "firmware", "keyagent")
MICROPYTHON_TGZ = os.path.join(ROOT, "..", "shared", "micropython", "micropython-1.28.0-qemu.tar.gz")


def every_module():
    return sorted(
        os.path.relpath(os.path.join(top, n), os.path.dirname(AGENT)).replace(os.sep, "/")
        for top, dirs, names in os.walk(AGENT) if "__pycache__" not in top
        for n in names if n.endswith(".py") and n != "manifest.py"
    )


def test_full_image_freezes_every_module_but_the_unix_ones():
    frozen = [dest for _, dest in frozen_files()]
    assert frozen == [m for m in every_module() if not m.startswith("keyagent/unix/")]
    for src, dest in frozen_files():  # what a board cannot import must not be frozen
        with open(src) as f:
            text = f.read()
        assert "import socket" not in text and "import select" not in text, dest


def test_slave_image_leaves_the_rekey_master_out():
    full = {dest for _, dest in frozen_files(role="both")}
    slave = {dest for _, dest in frozen_files(role="slave")}
    assert full - slave == {"keyagent/rekey/master.py", "keyagent/keystore/__init__.py",
                            "keyagent/keystore/keywrap.py", "keyagent/keystore/source.py",
                            "keyagent/keystore/store.py"}
    # and nothing frozen in a slave image imports the master
    for src, dest in frozen_files(role="slave"):
        with open(src) as f:
            assert "rekey.master import" not in f.read() or dest == "keyagent/agent.py"


def test_an_image_with_cryptolib_built_in_leaves_the_soft_aes_out():
    full = {dest for _, dest in frozen_files()}
    lean = {dest for _, dest in frozen_files(soft_aes=False)}
    assert full - lean == {"keyagent/crypto/aes_soft.py", "keyagent/crypto/aes_soft_viper.py"}
    # Only keyagent.crypto.aes reaches for it, and only without cryptolib.
    for src, dest in frozen_files(soft_aes=False):
        with open(src) as f:
            assert "aes_soft" not in f.read() or dest == "keyagent/crypto/aes.py", dest


def test_boards_without_the_soft_aes_build_cryptolib_in():
    # A board image without the AES written in MicroPython must have
    # cryptolib: from boards/cmodules or from the port's ssl.
    for board in sorted(os.listdir(os.path.join(ROOT, "boards"))):
        path = os.path.join(ROOT, "boards", board, "manifest.py")
        if not os.path.exists(path) or board == "qemu":
            continue
        with open(path) as f:
            lean = "soft_aes=False" in f.read()
        with open(os.path.join(ROOT, "boards", board, "board.json")) as f:
            fw = json.load(f)["firmware"]
        has_cryptolib = fw.get("stock_cryptolib") or "cmodules" in fw.get("build_vars", {}).get("USER_C_MODULES", "")
        assert has_cryptolib or not lean, board


@pytest.mark.parametrize("options", [{"role": "both"}, {"role": "slave"},
                                     {"role": "slave", "ota": False, "soft_aes": False}])
def test_micropython_reads_the_manifests_the_same_way(options, tmp_path):
    # The real peer: MicroPython v1.28's tools/manifestfile.py, from the
    # source subset in ../shared when this checkout has it.
    if not os.path.exists(MICROPYTHON_TGZ):
        pytest.skip("no ../shared/micropython source to take tools/manifestfile.py from")
    with tarfile.open(MICROPYTHON_TGZ) as tar:
        member = tar.getmember("micropython-1.28.0-qemu/tools/manifestfile.py")
        member.name = "manifestfile.py"
        tar.extract(member, tmp_path, filter="data")
    sys.path.insert(0, str(tmp_path))
    try:
        import manifestfile
    finally:
        sys.path.remove(str(tmp_path))
    m = manifestfile.ManifestFile(manifestfile.MODE_FREEZE, {"MPY_LIB_DIR": None})
    args = "".join(", %s=%r" % kv for kv in sorted(options.items()))
    m.execute("include(%r%s)" % (os.path.join(ROOT, "boards", "manifest.py"), args))
    theirs = sorted((os.path.abspath(r.full_path), r.target_path) for r in m.files())
    assert theirs == frozen_files(**options)
