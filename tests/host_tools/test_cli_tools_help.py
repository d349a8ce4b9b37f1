# --help of monitor, trace analyze, flash and provision: what the command
# does and a runnable example, exit status 0.
import re

import pytest

from host_tools.cli import main

CASES = {
    ("monitor",): ("Watch a CAN bus: decode signals with the DBC, verify every SecOC PDU", "qkd-secoc monitor --interface socketcand"),
    ("trace", "analyze"): ("Verify every SecOC PDU of a recorded trace", "qkd-secoc trace analyze run.blf"),
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
