# `qkd-secoc emulate`: a short virtual-time run writes what it promises, a
# real-time run carries a real MicroPython ECU, and mistakes are one line.
import json
import signal
import subprocess
import sys

import can

from host_tools.cli import main


def test_virtual_run_writes_summary_trace_and_plot(tmp_path, capsys):
    out = tmp_path / "s.json"
    trace = tmp_path / "t.asc"
    png = tmp_path / "p.png"
    code = main(["emulate", "scenarios/default.toml", "--inline", "--duration", "3", "--quiet",
                 "--json", str(out), "--trace", str(trace), "--plot", str(png)])
    text = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out.read_text())
    for key in ("frames_verified", "authentic_rejected", "attacks_injected", "attacks_accepted",
                "rekeys_completed", "authentic_rejected_by_reason", "rekey_latency_ms"):
        assert key in summary
    assert summary["frames_verified"] > 1000 and summary["authentic_rejected"] == 0
    assert summary["rekeys_completed"] >= 1
    assert "genuine traffic: %d PDUs sent, %d receptions verified" % (
        summary["frames_sent"], summary["frames_verified"]) in text
    frames = list(can.ASCReader(str(trace)))
    assert len(frames) == summary["bus_frames"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_realtime_run_with_a_micropython_ecu(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["emulate", "scenarios/default.toml", "--duration", "4", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    adas = summary["external_ecus"]["ADAS"]
    assert adas["exit"] == 0
    assert adas["status"]["verified"] > 100 and adas["status"]["rejected"] == {}
    assert adas["status"]["epoch"] == summary["epoch"]
    assert "ADAS (MicroPython pid" in capsys.readouterr().out


def test_user_mistakes_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[[ecu]]\nname = "GATEWAY"\n')
    assert main(["emulate", str(bad)]) == 2
    assert capsys.readouterr().err == 'error: %s: [[ecu]] role: exactly one [[ecu]] must have role = "master"\n' % bad
    assert main(["emulate", str(tmp_path / "missing.toml")]) == 2
    assert "error: cannot read" in capsys.readouterr().err
    assert main(["emulate", "scenarios/default.toml", "--trace", "x.txt"]) == 2
    assert capsys.readouterr().err == "error: --trace must name a .blf or .asc file\n"
    (tmp_path / "file").write_text("")
    blocked = str(tmp_path / "file" / "s.json")
    assert main(["emulate", "scenarios/default.toml", "--inline", "--json", blocked]) == 2
    assert capsys.readouterr().err == "error: cannot write %s: File exists\n" % blocked


def test_exported_keys_let_trace_analyze_judge_the_run_like_the_ecus(tmp_path, capsys):
    trace, out, run = str(tmp_path / "t.blf"), str(tmp_path / "a.json"), tmp_path / "run"
    assert main(["emulate", "scenarios/default.toml", "--inline", "--duration", "12", "--quiet",
                 "--trace", trace, "--export", str(run), "--json", str(tmp_path / "s.json")]) == 0
    keys, cfg = str(run / "keys.json"), str(run / "GATEWAY.json")
    assert sorted(p.name for p in run.iterdir()) == sorted(
        ["keys.json", "GATEWAY.json", "ABS.json", "EPS.json", "ADAS.json", "BCM.json", "PCM.json"])
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in run.iterdir())
    assert json.loads((run / "ADAS.json").read_text())["role"] == "slave"
    summary = json.loads((tmp_path / "s.json").read_text())
    assert main(["trace", "analyze", trace, "--config", cfg, "--keys", keys, "--json", out]) == 0
    capsys.readouterr()
    verdicts = dict((m["name"], m["verdicts"]) for m in json.loads(open(out).read())["messages"] if m["secoc"])
    # Every authentic frame verifies offline too; each attack frame gets the
    # reason its receivers gave (the trace holds each frame once).
    for attack in summary["attacks"]:
        if attack["kind"] == "flood":
            continue
        bad = dict((k, n) for k, n in verdicts[attack["target"]].items() if k != "ok")
        # (the last one may still be queued when the run ends)
        assert attack["injected"] - 1 <= sum(bad.values()) <= attack["injected"], (attack, bad)
        assert set(bad) == set(attack["rejected_by_reason"])
    others = [v for name, v in verdicts.items() if name not in {a.get("target") for a in summary["attacks"]}]
    assert all(set(v) == {"ok"} for v in others)


def test_plot_formats_are_checked_before_the_run(tmp_path, capsys):
    svg, jpg = tmp_path / "t.svg", tmp_path / "t.jpg"
    assert main(["emulate", "scenarios/default.toml", "--inline", "--duration", "1", "--quiet",
                 "--plot", str(svg)]) == 0
    assert main(["emulate", "scenarios/default.toml", "--inline", "--duration", "1", "--quiet",
                 "--plot", str(jpg)]) == 0
    out = capsys.readouterr().out
    assert "wrote %s\n" % svg in out and "wrote %s\n" % jpg in out
    assert svg.read_text().lstrip().startswith("<?xml") and jpg.read_bytes()[:3] == b"\xff\xd8\xff"
    noext = tmp_path / "noext"
    assert main(["emulate", "scenarios/default.toml", "--inline", "--plot", str(noext)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing ran
    assert captured.err.startswith("error: --plot %s: the extension names the format, one of ." % noext)
    assert ".png" in captured.err and ".svg" in captured.err
    assert not list(tmp_path.glob("noext*"))


def test_ctrl_c_writes_what_ran_as_partial(tmp_path):
    out, trace = tmp_path / "s.json", tmp_path / "t.asc"
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "emulate", "scenarios/default.toml",
                             "--inline", "--duration", "600", "--json", str(out), "--trace", str(trace)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:  # bounded by the 600 s run; interrupted after two progress lines
        lines.append(line)
        if sum(1 for l in lines if l.startswith("t=")) == 2:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=60)[0]
    assert proc.returncode == 130, rest
    summary = json.loads(out.read_text())
    assert summary["partial"] is True and 2.0 <= summary["time_reached_s"] < 600
    assert "interrupted at t=%.1f s of 600 s" % summary["time_reached_s"] in rest
    assert summary["frames_verified"] > 500
    assert len(list(can.ASCReader(str(trace)))) == summary["bus_frames"]


def test_live_export_is_ready_before_the_clock_and_the_monitor_verifies_at_once(tmp_path, capsys):
    live = tmp_path / "live"
    proc = subprocess.Popen([sys.executable, "-m", "host_tools", "emulate", "scenarios/default.toml",
                             "--inline", "--bus-port", "0", "--export", str(live), "--duration", "12"]
                            # the attacks after the run: every frame the monitor sees is genuine
                            + ["--set=attack.%d.at_s=20" % i for i in range(4)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        for line in proc.stdout:  # bounded by the 12 s run
            lines.append(line)
            if line.startswith("watch it with:"):
                command = next(proc.stdout).split()
                # written before the clock started: no progress line yet
                assert not [l for l in lines if l.startswith("t=")]
                assert sorted(p.name for p in live.iterdir() if not p.name.startswith(".")) == sorted(
                    ["keys.json", "GATEWAY.json", "ABS.json", "EPS.json", "ADAS.json", "BCM.json", "PCM.json"])
            if line.startswith("t=   3"):  # mid-epoch (rekeys every 4 s): join now
                break
        assert command[:3] == ["qkd-secoc", "monitor", "--port"]
        keys = json.loads((live / "keys.json").read_text())
        assert keys["epoch_keys"] and keys["qkd_keys"]
        report = tmp_path / "m.json"
        assert main(command[1:] + ["--duration", "2", "--refresh", "0", "--json", str(report)]) == 0
    finally:
        proc.send_signal(signal.SIGINT)  # seen enough: stop the run early (it still exports)
        proc.communicate(timeout=60)
    capsys.readouterr()
    verdicts = {}
    for m in json.loads(report.read_text())["messages"]:
        if m["secoc"]:
            for v, n in m["verdicts"].items():
                verdicts[v] = verdicts.get(v, 0) + n
    # from its first frame on: keys at once, nothing unverifiable
    assert verdicts.get("ok", 0) > 300 and set(verdicts) == {"ok"}, verdicts
    assert "epoch_keys" not in json.loads((live / "keys.json").read_text())  # after the run: QKD keys only
