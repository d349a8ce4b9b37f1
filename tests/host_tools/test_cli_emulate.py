# `qkd-secoc emulate`: a short virtual-time run writes what it promises, a
# real-time run carries a real MicroPython ECU, and mistakes are one line.
import json

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
    assert "frames: %d sent, %d verified" % (summary["frames_sent"], summary["frames_verified"]) in text
    frames = list(can.ASCReader(str(trace)))
    assert len(frames) == summary["bus_frames"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_realtime_run_with_a_micropython_ecu(tmp_path, capsys):
    out = tmp_path / "s.json"
    assert main(["emulate", "scenarios/default.toml", "--duration", "4", "--json", str(out)]) == 0
    summary = json.loads(out.read_text())
    adas = summary["external_ecus"]["ADAS"]
    assert adas["exit"] == 0
    assert int(adas["status"]["verified"]) > 100 and adas["status"]["rejected"] == "-"
    assert adas["status"]["epoch"] == str(summary["epoch"])
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
