# --help of monitor, trace analyze, flash and provision: what the command
# does and a runnable example, exit status 0.
import re

import pytest

from host_tools.cli import main

CASES = {
    ("monitor",): ("Watch a CAN bus: decode signals with the DBC, verify every SecOC PDU", "qkd-secoc monitor --interface qkd_socketcand"),
    ("trace", "analyze"): ("Verify every SecOC PDU of a recorded trace", "qkd-secoc trace analyze out/t.blf"),
    ("flash",): ("Compile firmware/keyagent with mpy-cross", "qkd-secoc flash NUCLEO_G474RE --port"),
    ("provision",): ("Write the node configuration", "qkd-secoc provision --port /dev/ttyACM0"),
}


@pytest.mark.parametrize("argv", sorted(CASES), ids=" ".join)
def test_help_says_what_and_shows_an_example(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(list(argv) + ["--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # argparse rewraps the description
    what, example = CASES[argv]
    assert what in out
    assert "example" in out and example in out


def test_top_level_help_lists_the_tools(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("monitor", "trace", "flash", "provision"):
        assert re.search(r"^    %s\b" % name, out, re.M), name


@pytest.mark.parametrize("argv", sorted(CASES), ids=" ".join)
def test_help_examples_name_the_files_emulate_exports(argv, capsys):
    # `emulate --export DIR` writes DIR/<ECU name>.json and DIR/keys.json
    from emulator import scenario

    with pytest.raises(SystemExit):
        main(list(argv) + ["--help"])
    names = re.findall(r"(?:out/run|out/live)/([\w.-]+)\.json", capsys.readouterr().out)
    ecus = [e["name"] for e in scenario.load(scenario.DEFAULT)["ecu"]]
    assert set(names) <= set(ecus) | {"keys"}, names


@pytest.mark.parametrize("argv", [["flash", "X", "--port", "P"], ["provision", "--port", "P", "--config", "c"],
                                  ["module", "console", "P"]])
def test_one_name_for_the_baud_rate(argv):
    from host_tools.cli import build_parser

    args = build_parser().parse_args(argv + ["--baud", "57600"])
    assert 57600 in (getattr(args, "baudrate", None), getattr(args, "baud", None))
