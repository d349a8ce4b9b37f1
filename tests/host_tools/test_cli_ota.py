# `qkd-secoc ota build / push / info`: an image of the real agent for the
# unix port, pushed with udsoncan over can-isotp on python-can's virtual bus
# to the firmware's OTA service (tests/helpers/uds_bus_ecu.py), exact
# output lines, and one `error:` line for each user mistake or refusal.
import itertools
import json
import re

import pytest

from host_tools import cli
from host_tools.manifest import frozen_files
from keyagent.ota import image as I
from keyagent.ota.slots import SlotStore
from uds_bus_ecu import BusEcu, node_config

NODE = 3
K_AUTH = bytes(range(16, 32))
QKD_KEY = bytes(range(64, 96))
KEY_ID = "fleet-key-7"
_channels = itertools.count()


@pytest.fixture(autouse=True)
def only_ota(monkeypatch):
    monkeypatch.setattr(cli, "COMMANDS", ("ota",))


def run(capsys, *argv):
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def fleet(tmp_path):
    key = tmp_path / "ota_key.json"
    key.write_text(json.dumps({"key_id": KEY_ID, "key": QKD_KEY.hex()}))
    configs = tmp_path / "vehicle"
    configs.mkdir()
    config = node_config(NODE, K_AUTH, {KEY_ID: I.update_key(QKD_KEY, NODE, KEY_ID)})
    (configs / "BRAKE.json").write_text(json.dumps(config))
    return tmp_path, key, configs, config


def test_build_an_image_of_the_agent_for_the_unix_port(capsys, fleet):
    tmp, key, _, _ = fleet
    out_path = tmp / "a.ota"
    code, out, err = run(capsys, "ota", "build", "--board", "unix", "--version", "1.1.0", "--node", NODE,
                         "--key-file", key, "--out", out_path)
    assert code == 0, err
    data = out_path.read_bytes()
    m = I.check_head(data[:I.head_length(data)], {KEY_ID: I.update_key(QKD_KEY, NODE, KEY_ID)}, NODE, "unix", "py")
    paths = [f[0] for f in m["files"]]
    assert "keyagent/agent.py" in paths and "keyagent/unix/socketcand_can.py" in paths
    assert "keyagent/ota/slots.py" in paths and not any(p.endswith("manifest.py") for p in paths)
    assert out == ("ota image %s: version 1.1.0, board unix (py), node 3, key ID fleet-key-7, %d files, %d bytes\n"
                   % (out_path, len(paths), len(data)))
    assert QKD_KEY.hex() not in out + err


@pytest.mark.parametrize("argv, message", [
    (["--version", "1.x"], "--version must be a.b.c with numbers 0..999, not '1.x'"),
    (["--key-file", "/nonexistent/k"], "cannot read key file /nonexistent/k: No such file or directory"),
    (["--board", "NOPE"], "unknown board NOPE (no boards/NOPE/board.json; or use unix)"),
])
def test_build_mistakes_are_one_error_line(capsys, fleet, argv, message):
    tmp, key, _, _ = fleet
    base = {"--board": "unix", "--version": "1.1.0", "--node": NODE, "--key-file": key, "--out": tmp / "x.ota"}
    for i in range(0, len(argv), 2):
        base[argv[i]] = argv[i + 1]
    code, out, err = run(capsys, "ota", "build", *[x for kv in base.items() for x in kv])
    assert (code, out, err) == (2, "", "error: %s\n" % message)


def test_a_hex_key_file_needs_a_key_id(capsys, fleet):
    tmp, _, _, _ = fleet
    hex_key = tmp / "k.hex"
    hex_key.write_text(QKD_KEY.hex() + "\n")
    argv = ["ota", "build", "--board", "unix", "--version", "1.1.0", "--node", NODE, "--key-file", hex_key,
            "--out", tmp / "x.ota"]
    assert run(capsys, *argv)[2] == "error: --key-id is needed (the key file does not name its key)\n"
    assert run(capsys, *(argv + ["--key-id", KEY_ID]))[0] == 0


def bus_args(channel):
    return ["--interface", "virtual", "--channel", channel]


def test_push_then_info_over_python_can(capsys, fleet):
    tmp, key, configs, config = fleet
    image = tmp / "a.ota"
    assert run(capsys, "ota", "build", "--board", "unix", "--version", "1.1.0", "--node", NODE,
               "--key-file", key, "--out", image)[0] == 0
    channel = "ota-cli-%d" % next(_channels)
    with BusEcu({"interface": "virtual", "channel": channel}, config) as ecu:
        code, out, err = run(capsys, "ota", "info", "--ecu", "BRAKE", "--configs", configs, *bus_args(channel))
        assert (code, err) == (0, "")
        assert out == "BRAKE (node 3): version 1.0.0, slot factory, epoch -, version floor 1000000, boot qkd-secoc boot 1\n"
        code, out, err = run(capsys, "ota", "push", image, "--node", NODE, "--configs", configs, *bus_args(channel))
        assert code == 0, err
        assert re.fullmatch(r"pushed %s to BRAKE \(node 3\): version 1\.1\.0, %d bytes in [0-9.]+ s \([0-9]+ bytes/s\); "
                            r"the ECU restarts into it on probation\n" % (re.escape(str(image)), image.stat().st_size), out)
        assert err.startswith("\r[") and err.endswith("] 100%% %d/%d bytes %s B/s\n"
                                                      % ((image.stat().st_size,) * 2 + (err.split()[-2],)))
        # the same image again: not newer than the one on trial
        code, out, err = run(capsys, "ota", "push", image, "--ecu", "BRAKE", "--configs", configs, *bus_args(channel))
        assert (code, out) == (2, "")
        assert err.endswith("error: BRAKE refused RoutineControl: ConditionsNotCorrect (0x22)\n")
    store = SlotStore(ecu.fs, {KEY_ID: I.update_key(QKD_KEY, NODE, KEY_ID)}, NODE, "unix", "py")
    assert store.record["trial"] == "a" and store.verify("a")["version"] == "1.1.0"


def test_push_refusals_and_mistakes(capsys, fleet):
    tmp, key, configs, config = fleet
    other = tmp / "other.ota"
    assert run(capsys, "ota", "build", "--board", "unix", "--version", "1.1.0", "--node", 4,
               "--key-file", key, "--out", other)[0] == 0
    channel = "ota-cli-%d" % next(_channels)
    with BusEcu({"interface": "virtual", "channel": channel}, config):
        code, out, err = run(capsys, "ota", "push", other, "--ecu", "BRAKE", "--configs", configs, *bus_args(channel))
        assert code == 2
        assert err.startswith("warning: %s is made for node 4, BRAKE is node 3: the ECU will refuse it\n" % other)
        assert err.endswith("error: BRAKE refused TransferData: RequestOutOfRange (0x31)\n")
    assert run(capsys, "ota", "push", tmp / "ota_key.json", "--ecu", "BRAKE", "--configs", configs,
               *bus_args(channel))[2] == "error: %s is not an update image (bad_magic)\n" % (tmp / "ota_key.json")
    assert run(capsys, "ota", "info", "--ecu", "NOPE", "--configs", configs,
               *bus_args(channel))[2] == "error: no configuration for NOPE in %s\n" % configs
    code, out, err = run(capsys, "ota", "info", "--node", NODE, "--configs", configs, "--timeout", "0.2",
                         *bus_args("ota-cli-nobody"))
    assert (code, err) == (2, "error: no answer from BRAKE on 0x7E3/0x7EB\n")


def test_board_images_can_leave_ota_out():
    full = {dest for _, dest in frozen_files()}
    lean = {dest for _, dest in frozen_files(ota=False)}
    assert sorted(full - lean) == sorted(d for d in full if d.startswith(("keyagent/uds/", "keyagent/ota/")))
    assert len(full - lean) == 11
    f446 = frozen_files(manifest=__file__.rsplit("/tests/", 1)[0] + "/boards/NUCLEO_F446RE/manifest.py")
    assert not any(dest.startswith(("keyagent/uds/", "keyagent/ota/")) for _, dest in f446)


@pytest.mark.parametrize("action", ["build", "push", "info"])
def test_help_says_what_and_shows_an_example(capsys, action):
    with pytest.raises(SystemExit) as e:
        cli.main(["ota", action, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert e.value.code == 0
    assert "examples: qkd-secoc emulate scenarios/ota.toml" in out and "qkd-secoc ota %s" % action in out
