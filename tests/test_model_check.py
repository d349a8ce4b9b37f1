# The spin model of the rekey protocol (docs/rekey-protocol.pml): checked
# here with the smallest bounds of `make model-check` (safety with the
# attacker, liveness under weak fairness), and a deliberately broken variant
# that the check must refute, so that a model which proves nothing fails.
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "docs", "rekey-protocol.pml")
SPIN = shutil.which("spin")

pytestmark = pytest.mark.skipif(
    SPIN is None or shutil.which("gcc") is None,
    reason="SKIPPED: spin (or gcc) not installed, the rekey protocol's model was not checked "
           "(Debian: apt-get install spin; .ci/run installs it)")


def check(tmp_path, defines, liveness=False):
    """Runs spin -a, gcc and pan on the model; returns pan's output."""
    shutil.copy(MODEL, tmp_path / "model.pml")
    subprocess.run([SPIN, "-a"] + defines + ["model.pml"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=60)
    cc = ["-DNFAIR=3"] if liveness else ["-DNOCLAIM"]
    subprocess.run(["gcc", "-O1", "-w", "-DMEMLIM=2048"] + cc + defines + ["-o", "pan", "pan.c"],
                   cwd=tmp_path, check=True, capture_output=True, timeout=120)
    flags = ["-m1000000"] + (["-a", "-f"] if liveness else [])
    out = subprocess.run(["./pan"] + flags, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    return out.stdout


def errors(out):
    m = re.search(r"errors: (\d+)", out)
    assert m, out
    return int(m.group(1))


def states(out):
    return float(re.search(r"([0-9.e+]+) states, stored", out).group(1))


def test_safety_with_a_replaying_attacker(tmp_path):
    out = check(tmp_path, ["-DATTACKS=1", "-DREBOOTS=0", "-DFAULTS=0"])
    assert errors(out) == 0, out
    assert "reached -DMEMLIM bound" not in out
    assert states(out) > 100000  # the attacker's choices were explored
    print("safety, attacker: %d states stored" % states(out))


def test_liveness_under_weak_fairness(tmp_path):
    out = check(tmp_path, ["-DATTACKS=0", "-DREBOOTS=0", "-DFAULTS=0"], liveness=True)
    assert errors(out) == 0, out
    assert "acceptance   cycles \t+ (fairness enabled)" in out
    print("liveness: %d states stored" % states(out))


def test_a_slave_without_the_rollback_checks_is_refuted(tmp_path):
    # No epoch check and a SHE that keeps no counter: a replayed DELIVER
    # of an older epoch must be found installing it.
    out = check(tmp_path, ["-DBROKEN_ROLLBACK", "-DATTACKS=1", "-DREBOOTS=0", "-DFAULTS=0"])
    assert errors(out) == 1, out
    assert "assertion violated (e>=held[s])" in out.replace("qe", "e"), out
