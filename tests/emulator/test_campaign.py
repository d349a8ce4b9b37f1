# Campaigns on Dask give the same runs as running the seeds one by one, on a
# local cluster and on a separately started scheduler with two workers; a
# worker that dies or a run over its time limit is a failed run, not a hang.
import csv
import json
import os
import signal
import subprocess
import sys
import time

import cloudpickle
import pytest

from emulator import campaign, campaign_report, campaign_run, campaign_sweep
from emulator.scenario import ROOT
from host_tools.cli import main

SHORT = os.path.join(ROOT, "tests", "emulator", "campaign_short.toml")
SEEDS = range(1, 5)


@pytest.fixture(scope="module")
def short():
    return SHORT


@pytest.fixture(scope="module")
def one_by_one(short, tmp_path_factory):
    # The reference: every seed run in this process, written like a campaign.
    tasks = campaign_sweep.tasks([short], SEEDS, [])
    path = str(tmp_path_factory.mktemp("ref") / "results.csv")
    campaign_report.write_csv([campaign_run.run_task(t) for t in tasks], [], path)
    return runs(path)


def runs(path):
    # results.csv without the timing column, which differs from run to run.
    with open(path) as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        assert float(row.pop("run_s")) > 0
    return rows


def test_a_local_cluster_gives_the_runs_one_by_one(short, one_by_one, tmp_path, capsys):
    assert main(["campaign", short, "--seeds", "4", "--workers", "2", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert runs(str(tmp_path / "results.csv")) == one_by_one
    assert "on 2 local worker processes" in out
    assert "] 4/4 runs, 0 failed, ETA" in out
    summary = json.loads((tmp_path / "summary.json").read_text())
    (combo,) = summary["combinations"]
    assert combo["runs"] == 4 and combo["failed"] == 0 and summary["failing_runs"] == []
    rejected = sorted(int(r["authentic_rejected"]) for r in one_by_one)
    assert combo["figures"]["authentic_rejected"]["min"] == rejected[0]
    assert combo["figures"]["authentic_rejected"]["max"] == rejected[-1]
    assert "  authentic_rejected     %10d" % rejected[0] in out


def _start(args, log):
    return subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "dask")] + args, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_a_separate_scheduler_with_two_workers_gives_the_same_runs(short, one_by_one, tmp_path, capsys):
    from distributed import Client

    info = tmp_path / "scheduler.json"
    with open(tmp_path / "dask.log", "wb") as log:
        procs = [_start(["scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                         "--scheduler-file", str(info)], log)]
        try:
            for _ in range(2):
                procs.append(_start(["worker", "--scheduler-file", str(info), "--host", "127.0.0.1",
                                     "--nthreads", "1", "--no-dashboard", "--death-timeout", "60"], log))
            deadline = time.monotonic() + 90
            while not info.exists() and time.monotonic() < deadline:
                time.sleep(0.2)
            address = json.loads(info.read_text())["address"]
            assert address.startswith("tcp://127.0.0.1:")
            with Client(address, timeout=60) as c:
                c.wait_for_workers(2, timeout=90)
            out = tmp_path / "out"
            assert main(["campaign", short, "--seeds", "4", "--scheduler", address, "--out", str(out)]) == 0
            assert "on the Dask scheduler at %s" % address in capsys.readouterr().out
            assert runs(str(out / "results.csv")) == one_by_one
        finally:
            for p in procs:
                os.killpg(p.pid, signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()


def _die_on_seed_2(task, time_limit_s=None):
    if task.seed == 2:
        os._exit(3)
    return campaign_run.run_task(task, time_limit_s)


def test_a_dead_worker_and_a_run_over_its_limit_are_failed_runs(short):
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import tests
    tasks = campaign_sweep.tasks([short], range(1, 4), [])
    with campaign.client(workers=1) as c:
        died = campaign.run(c, tasks, task_fn=_die_on_seed_2).rows
        slow = campaign.run(c, tasks[:1], time_limit_s=0.01).rows
    assert [r["failed"] for r in died] == [False, True, False]
    assert died[1]["failures"] == "worker died while running it"
    assert slow[0]["failed"] and slow[0]["failures"].startswith("time limit: over the time limit of 0.01 s")


def test_ctrl_c_stops_the_cluster_and_keeps_the_runs_so_far(short, tmp_path):
    cmd = [os.path.join(os.path.dirname(sys.executable), "qkd-secoc"), "campaign", short,
           "--seeds", "40", "--workers", "1", "--out", str(tmp_path)]
    p = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stdout:
            if "] 2/40 runs" in line:  # a log gets a line every 5%
                break
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130, err
    assert "interrupted: results so far" in out
    rows = runs(str(tmp_path / "results.csv"))
    assert 2 <= len(rows) < 40
    assert json.loads((tmp_path / "summary.json").read_text())["interrupted"] is True
