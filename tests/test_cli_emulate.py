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
    assert capsys.readouterr().err == 'error: exactly one [[ecu]] must have role = "master"\n'
    assert main(["emulate", str(tmp_path / "missing.toml")]) == 2
    assert "error: cannot read" in capsys.readouterr().err
    assert main(["emulate", "scenarios/default.toml", "--trace", "x.txt"]) == 2
    assert capsys.readouterr().err == "error: --trace must name a .blf or .asc file\n"
