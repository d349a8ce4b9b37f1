# `qkd-secoc trace analyze`: a trace built with the firmware's own SecOCTx and
# rekey messages (tests/secoc_trace_builder.py), written with python-can's
# BLF and ASC writers, gives exact verdict counts, events and output.
import json
import os

import pytest

import secoc_trace_builder as B
from host_tools.cli import main
from host_tools.observer_inputs import Keys, parse_config
from host_tools.secoc_observer import Observer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DBCS = [os.path.join(ROOT, "can_dbc", "vehicle.dbc"), os.path.join(ROOT, "can_dbc", "keymgmt.dbc")]
NONCE = bytes(range(8))  # a JOIN nonce the answer echoes

EXPECTED = """\
ID       NAME              FRAMES   RATE/s EPOCH     OK    MAC  STALE  OTHER  LAST               SIGNALS
0B0      BrakePedal            28     28.4     2     26      2      0      0  mac_mismatch       BrakePedalPosition=1.6 BrakePressure=0 BrakeSwitch=0 BrakeCounter=0
0C0      SteeringAngle         26     72.3     2     25      0      1      0  ok                 SteeringWheelAngle=0.4 SteeringWheelRate=20 SteeringCounter=0
1A0      VehicleStatus          1      0.0     -      -      -      -      -  plain              VehicleSpeed=10 IgnitionState=Run DoorsLocked=0 AmbientTemperature=-35 VehicleStatus_FV=0 VehicleStatus_MAC=0
6F0      KeyMgmt_Activate       6     14.7     2      -      -      -      -  ok                 Activate_Type=ACTIVATE Activate_Epoch=2 Activate_MAC24=1402537
701      KeyMgmt_M2S_01        13     41.2     -      -      -      -      -  isotp              PCI_Type=ConsecutiveFrame CF_SN=5 CF_Data=65233542980619468
702      KeyMgmt_M2S_02        14    866.8     -      -      -      -      -  isotp              PCI_Type=FlowControl FC_FlowStatus=ContinueToSend FC_BlockSize=0 FC_STmin=0
741      KeyMgmt_S2M_01         4     10.5     -      -      -      -      -  isotp              PCI_Type=FlowControl FC_FlowStatus=ContinueToSend FC_BlockSize=0 FC_STmin=0
742      KeyMgmt_S2M_02         5    235.3     -      -      -      -      -  isotp              PCI_Type=ConsecutiveFrame CF_SN=3 CF_Data=36253977000332492
epoch: current 2
rekey events: 14
       0.006 announce epoch 1 node 1 (mac ok, key known)
       0.009 ack epoch 1 node 1
       0.029 activate epoch 1 (ok)
       0.029 switch epoch 1 (activate)
       0.049 activate epoch 1 (ok)
       0.069 activate epoch 1 (ok)
       0.291 announce epoch 2 node 1 (mac ok, key unknown)
       0.305 deliver epoch 2 node 2 (mac ok, pending, key known)
       0.310 delivered epoch 2 node 2
       0.330 activate epoch 2 (ok)
       0.330 switch epoch 2 (activate)
       0.350 activate epoch 2 (ok)
       0.370 activate epoch 2 (ok)
       0.830 grace_end epoch 1
"""

VERDICTS = {
    "BrakePedal": {"ok": 26, "mac_mismatch": 2},
    "SteeringAngle": {"ok": 25, "stale_freshness": 1},
    "VehicleStatus": {"plain": 1},
    "KeyMgmt_Activate": {"ok": 6},
    "KeyMgmt_M2S_01": {"isotp": 13},
    "KeyMgmt_M2S_02": {"isotp": 14},
    "KeyMgmt_S2M_01": {"isotp": 4},
    "KeyMgmt_S2M_02": {"isotp": 5},
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("trace")
    frames = B.build()
    paths = {"frames": frames}
    for ext in ("blf", "asc"):
        paths[ext] = str(d / ("run." + ext))
        B.write(paths[ext], frames)
    paths["config"] = str(d / "gateway.json")
    paths["keys"] = str(d / "keys.json")
    with open(paths["config"], "w") as f:
        json.dump(B.CONFIG, f)
    with open(paths["keys"], "w") as f:
        json.dump(B.KEYS, f)
    paths["dir"] = d
    return paths


@pytest.mark.parametrize("ext", ["blf", "asc"])
def test_analyze_table_and_json(files, ext, capsys):
    out_json = str(files["dir"] / ("out-%s.json" % ext))
    argv = ["trace", "analyze", files[ext], "--config", files["config"], "--keys", files["keys"],
            "--json", out_json]
    for d in DBCS:
        argv += ["--dbc", d]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out == EXPECTED
    with open(out_json) as f:
        report = json.load(f)
    assert report["frames"] == len(files["frames"]) == 97
    assert {m["name"]: m["verdicts"] for m in report["messages"]} == VERDICTS
    assert [(e["event"], e.get("epoch"), e.get("node")) for e in report["events"]] == [
        ("announce", 1, 1), ("ack", 1, 1), ("activate", 1, None), ("switch", 1, None),
        ("activate", 1, None), ("activate", 1, None), ("announce", 2, 1), ("deliver", 2, 2),
        ("delivered", 2, 2), ("activate", 2, None), ("switch", 2, None), ("activate", 2, None),
        ("activate", 2, None), ("grace_end", 1, None)]
    assert report["events"][3]["t"] == pytest.approx(0.029, abs=1e-4)
    assert report["epoch"] == {"current": 2, "alternate": None, "alternate_role": None}


def test_json_to_stdout_has_no_key(files, capsys):
    assert main(["trace", "analyze", files["blf"], "--config", files["config"], "--keys", files["keys"],
                 "--json", "-"]) == 0
    out, _ = capsys.readouterr()
    report = json.loads(out)
    assert {m["name"] or hex(m["id"]): m["verdicts"]["ok"] for m in report["messages"] if m["secoc"]} == {
        "BrakePedal": 26, "SteeringAngle": 25}
    for secret in (B.Q1, B.Q2, B.AUTH[1], B.AUTH[2]):
        assert secret.hex() not in out and secret.hex().upper() not in out


def test_without_key_file_only_the_delivered_epoch_verifies(files, capsys):
    # Epoch 2's K_epoch comes in the SHE M2 of a DELIVER to slave 2, whose
    # K_auth is in the configuration; epoch 1 stays unknown.
    assert main(["trace", "analyze", files["asc"], "--config", files["config"], "--json", "-"]) == 0
    report = json.loads(capsys.readouterr().out)
    pdus = {m["id"]: m["verdicts"] for m in report["messages"] if m["secoc"]}
    assert pdus == {0xB0: {"no_key": 21, "ok": 5, "mac_mismatch": 2}, 0xC0: {"no_key": 21, "ok": 5}}


def _observer(keys=None):
    return Observer(parse_config(B.CONFIG), keys or Keys())


def test_frame_under_pending_key_switches_without_activate():
    obs = _observer(Keys({B.Q1_ID: B.Q1}))
    frames = [f for f in B.build() if f[1] != 0x6F0]  # every ACTIVATE lost
    verdicts = [obs.on_frame(t, can_id, data) for t, can_id, data in frames]
    assert [e.kind for e in obs.events if e.kind in ("switch", "grace_end")] == ["switch", "switch", "grace_end"]
    assert [e.detail for e in obs.events if e.kind == "switch"] == ["frame", "frame"]
    # the old-epoch frame in flight comes after the first new-epoch frame here, so it
    # verifies in the grace period too; the late one after grace does not
    assert verdicts.count("mac_mismatch") == 2 and verdicts.count("stale_freshness") == 1
    assert obs.messages[(0xB0, False)].verdicts == {"ok": 26, "mac_mismatch": 2}


def _late_frames(counter, n):
    from keyagent.rekey import messages as R

    s = B._Sender(B.CONFIG["clusters"][0]["pdus"][0])  # BrakePedal: 4 FV bits on the wire
    s.rekey(R.epoch_key(B.Q1, 1), 1)
    s.tx.fvm.counter = counter
    return [(i * 0.01,) + s.frame(bytes((i, 0, 0, 0))) for i in range(n)]


def test_join_mid_epoch_with_epoch_key_from_key_file():
    # Started while epoch 1 runs (counter 1000) with K_epoch(1) from the key
    # file: the observer looks ahead for the counter once, then verifies as a
    # receiver does (a replay of the first frame is stale).
    from keyagent.rekey import messages as R

    frames = _late_frames(1000, 3)
    obs = _observer(Keys(epoch_keys={1: R.epoch_key(B.Q1, 1)}))
    assert [obs.on_frame(*f) for f in frames + frames[:1]] == ["ok", "ok", "ok", "stale_freshness"]
    # A receiver that got epoch 1 through ANNOUNCE starts at 0 and does not look
    # ahead: nothing verifies (no_key: keyagent.secoc.engine's verdict with no current
    # key when the pending one fails too).
    obs = _observer(Keys({B.Q1_ID: B.Q1}))
    for f in B.build()[:7]:  # ANNOUNCE(1): first frame, flow control, 5 consecutive frames
        obs.on_frame(*f)
    assert obs.epochs.alt == 1 and obs.epochs.alt_role == "pending"
    assert [obs.on_frame(*f) for f in frames] == ["no_key"] * 3


def test_tampered_announce_is_reported_and_ignored():
    obs = _observer(Keys({B.Q1_ID: B.Q1}))
    frames = B.build()
    t, can_id, data = frames[0]
    assert can_id == 0x701 and data[0] >> 4 == 1  # the first frame of ANNOUNCE(1)
    frames[0] = (t, can_id, data[:7] + bytes((data[7] ^ 1,)))  # a bit of the key ID
    for f in frames:
        obs.on_frame(*f)
    assert obs.events[0].kind == "announce" and obs.events[0].detail == "mac mismatch"
    # The key file names epoch 1's key only by its QKD key ID, which came in
    # the ANNOUNCE that failed: ACTIVATE(1) cannot be checked, epoch 1 frames
    # have no key; epoch 2 is learnt from DELIVER as before, and the epoch 1
    # frames after it fail under the epoch 2 key.
    assert obs.events[2].kind == "activate" and obs.events[2].detail == "no key"
    assert obs.messages[(0xB0, False)].verdicts == {"no_key": 21, "ok": 5, "mac_mismatch": 2}


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return str(path)


def test_user_mistakes_are_one_error_line(files, tmp_path, capsys):
    base = ["trace", "analyze", files["blf"], "--config", files["config"]]
    cases = [
        (base + ["--keys", _write(tmp_path / "k1.json", '{"qkd_keys": {"00ff": "zz11"}}')],
         "error: key file: the QKD key of ID 00ff is not hex\n"),
        (base + ["--keys", _write(tmp_path / "k2.json", '{"epoch_keys": {"3": "0011"}}')],
         "error: key file: the key of epoch 3 must be 16 bytes\n"),
        (base + ["--keys", _write(tmp_path / "k3.json", "{not json")],
         "error: key file %s is not JSON: Expecting property name enclosed in double quotes: "
         "line 1 column 2 (char 1)\n" % (tmp_path / "k3.json")),
        (base + ["--dbc", _write(tmp_path / "bad.dbc", 'VERSION ""\nBO_ x y z\n')],
         'error: DBC %s does not parse: DBC: "Invalid syntax at line 2, column 5: "BO_ >>!<<x y z""\n'
         % (tmp_path / "bad.dbc")),
        (["trace", "analyze", files["blf"], "--config", str(tmp_path / "missing.json")],
         "error: cannot read configuration %s: No such file or directory\n" % (tmp_path / "missing.json")),
        (["trace", "analyze", _write(tmp_path / "run.txt", "x"), "--config", files["config"]],
         "error: %s: only .blf and .asc traces are read\n" % (tmp_path / "run.txt")),
        (["trace", "analyze", files["blf"], "--config",
          _write(tmp_path / "c.json", json.dumps({"clusters": [{"id": 1, "pdus": [{"name": "X"}]}]}))],
         "error: %s: malformed (KeyError 'can_id')\n" % (tmp_path / "c.json")),
    ]
    for argv, expected in cases:
        assert main(argv) == 2, argv
        out, err = capsys.readouterr()
        assert out == ""
        assert err == expected


def test_corrupt_blf_is_a_user_error(files, tmp_path, capsys):
    with open(files["blf"], "rb") as f:
        head = f.read(300)
    bad = tmp_path / "bad.blf"
    bad.write_bytes(head[:144] + b"\xff" * 64)
    assert main(["trace", "analyze", str(bad), "--config", files["config"]]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: %s is not a readable trace: " % bad) and err.count("\n") == 1


def test_active_deliver_with_floors_joins_a_running_epoch():
    # A slave rejoins epoch 1 (JOIN, DELIVER active with freshness floors):
    # the observer, with no key file, reads K_epoch from M2 and starts the
    # counters at the floors, so frames far into the epoch verify at once.
    from keyagent.rekey import messages as R
    from keyagent.crypto import she
    from keyagent.crypto.cmac import Cmac

    k1 = R.epoch_key(B.Q1, 1)
    brake, steer = (B._Sender(p) for p in B.CONFIG["clusters"][0]["pdus"])
    brake.rekey(k1, 1)
    steer.rekey(k1, 1)
    brake.tx.fvm.counter = 100  # master saw up to 100
    steer.tx.fvm.counter = 1000 + 128  # the joining slave 2 resumes at its floor
    m1, m2, m3, _, _ = she.update_messages(B.UID2, she.KEY_1, she.MASTER_ECU_KEY, B.AUTH[2], k1, 1 << 4, 0)
    auth2 = Cmac(B.AUTH[2])
    mgmt = B.isotp_frames(0x742, 0x702, R.join(auth2, 2, 0, 1, NONCE))
    mgmt += B.isotp_frames(0x702, 0x742, R.deliver(auth2, 2, 1, True, NONCE, m1, m2, m3, [(0, 100), (1, 1128)]))
    frames = [(i * 0.001, can_id, data) for i, (can_id, data) in enumerate(mgmt)]
    for i in range(3):
        frames.append((1 + i * 0.01,) + brake.frame(bytes(4)))
        frames.append((1.005 + i * 0.01,) + steer.frame(bytes(4)))
    obs = _observer()
    verdicts = [obs.on_frame(*f) for f in frames]
    assert verdicts[-6:] == ["ok"] * 6
    assert [(e.kind, e.epoch, e.node, e.detail) for e in obs.events] == [
        ("join", 0, 2, ""), ("deliver", 1, 2, "mac ok, active, key known"), ("switch", 1, None, "deliver")]
    # without the floors the same frames are far outside the receivers' window
    obs = _observer()
    no_floors = B.isotp_frames(0x702, 0x742, R.deliver(auth2, 2, 1, True, NONCE, m1, m2, m3, []))
    for f in [(i * 0.001, c, d) for i, (c, d) in enumerate(no_floors)]:
        obs.on_frame(*f)
    assert [obs.on_frame(*f) for f in frames[-6:]] == ["mac_mismatch"] * 6


def test_key_file_read_again_when_it_grows(tmp_path):
    # A monitor started with the emulator's key file before the first key
    # was drawn: the file is re-read when ACTIVATE names an epoch whose
    # announced key ID it did not have.
    from host_tools.observer_inputs import load_keys

    path = tmp_path / "keys.json"
    path.write_text('{"qkd_keys": {}}')
    obs = Observer(parse_config(B.CONFIG), load_keys(str(path)))
    frames = B.build()
    first_activate = next(i for i, f in enumerate(frames) if f[1] == 0x6F0)
    for f in frames[:first_activate]:
        obs.on_frame(*f)
    path.write_text(json.dumps(B.KEYS))
    for f in frames[first_activate:]:
        obs.on_frame(*f)
    assert obs.events[0].detail == "mac ok, key unknown"
    assert (obs.events[2].kind, obs.events[2].detail, obs.events[3].kind) == ("activate", "ok", "switch")
    assert obs.messages[(0xB0, False)].verdicts == VERDICTS["BrakePedal"]
    assert obs.messages[(0xC0, False)].verdicts == VERDICTS["SteeringAngle"]
