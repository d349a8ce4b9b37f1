# `qkd-secoc corridor`: the one-command corridor run, its JSON on standard
# output or in a file, the PNG, and one-line errors.
import json
import os

from host_tools.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORRIDOR = os.path.join(ROOT, "scenarios", "corridor.toml")


def test_json_on_stdout_and_plot(capsys, tmp_path):
    png = str(tmp_path / "c.png")
    assert main(["corridor", CORRIDOR, "--json", "--plot", png]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert err == "wrote %s\n" % png
    assert set(report) == {"name", "seed", "duration_s", "sessions", "vehicles", "rsus", "relay", "links"}
    assert report["sessions"]["refused"]["alarm"] > 0 and report["sessions"]["made"] > 0
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_text_summary_and_json_file(capsys, tmp_path):
    path = str(tmp_path / "c.json")
    assert main(["corridor", CORRIDOR, "--json", path]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert err == "" and lines[0].startswith("corridor corridor (seed 7, 1140 s): ")
    assert "  vehicle-1: 12 keys stocked, 12 consumed, 0 left; 12 sessions, 6 refused; no stock for rsu-4 (alarm)" \
        in lines
    with open(path) as f:
        assert json.load(f)["name"] == "corridor"


def test_errors_are_one_line(capsys, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rsu]]\nname = 'x'\n")
    assert main(["corridor", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == ("", "error: rsu 'x' is not an SAE of the network\n")
    assert main(["corridor", CORRIDOR, "--plot", str(tmp_path / "no" / "c.png")]) == 2
    assert capsys.readouterr()[1] == "error: cannot write %s: no directory %s\n" % (
        tmp_path / "no" / "c.png", tmp_path / "no")
