# The emulator's filler traffic (0x790-0x7DF, in no configuration or DBC)
# shares one summary row in the monitor's and trace analyze's tables unless
# --all, and a refreshing monitor table fits the terminal's height.
import re

from host_tools.cli import main
from host_tools.commands.trace import make_observer, read_trace


def test_filler_ids_share_one_row_unless_all(tmp_path, capsys):
    trace, run = str(tmp_path / "t.blf"), str(tmp_path / "run")
    assert main(["emulate", "scenarios/default.toml", "--inline", "--duration", "2", "--quiet",
                 "--trace", trace, "--export", run]) == 0
    capsys.readouterr()
    argv = ["trace", "analyze", trace, "--config", run + "/GATEWAY.json", "--keys", run + "/keys.json",
            "--dbc", "can_dbc/vehicle.dbc", "--dbc", "can_dbc/keymgmt.dbc"]
    assert main(argv) == 0
    short = capsys.readouterr().out.splitlines()
    assert main(argv + ["--all"]) == 0
    full = capsys.readouterr().out.splitlines()
    filler = [line for line in full if re.match(r"7[9A-D][0-9A-F] ", line)]
    assert len(filler) > 40  # about 96 IDs of filler
    summary = [line for line in short if "(other" in line]
    assert len(summary) == 1 and summary[0].startswith("790-7DF  (other %d IDs)" % len(filler))
    assert int(summary[0].split()[4]) == sum(int(line.split()[1]) for line in filler)  # FRAMES
    assert not [line for line in short if re.match(r"7[9A-D][0-9A-F] ", line)]
    assert len(short) == len(full) - len(filler) + 1
    # every SecOC message keeps its row
    for name in ("WheelSpeeds", "BrakePedal", "SteeringAngle", "AdasCommand"):
        assert any(name in line for line in short), name


def test_a_table_fits_the_terminal(tmp_path, capsys):
    trace, run = str(tmp_path / "t.blf"), str(tmp_path / "run")
    assert main(["emulate", "scenarios/default.toml", "--inline", "--duration", "6", "--quiet",
                 "--trace", trace, "--export", run]) == 0

    class Args:
        config, keys, dbc = run + "/GATEWAY.json", run + "/keys.json", ["can_dbc/vehicle.dbc"]

    obs = make_observer(Args)
    for m in read_trace(trace):
        obs.on_frame(m.timestamp, m.arbitration_id, m.data, m.is_extended_id)
    for height in (40, 20, 8):
        lines = obs.table(max_events=10, max_lines=height).splitlines()
        assert len(lines) <= height, (height, lines)
        assert "BrakePedal" in "\n".join(lines) or height < 10
    tall = obs.table(max_events=10, max_lines=40).splitlines()
    assert tall[-1].startswith("  ") and "rekey events (last" in "\n".join(tall)  # events fill the rest
