# can_dbc/keymgmt.dbc loads cleanly in cantools (strict) and canmatrix, and
# decodes the frames the firmware builds: ACTIVATE (keyagent.rekey.messages) and
# the ISO-TP frames of a rekey message (keyagent.isotp.sender) with their
# PCI fields multiplexed on the PCI type.
import logging
import os
import warnings

import canmatrix.formats
import cantools

import secoc_trace_builder as B
from keyagent.rekey import messages as R
from keyagent.crypto.cmac import Cmac
from keyagent.isotp.connection import IsoTpReceiver

DBC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "can_dbc", "keymgmt.dbc")


def test_loads_in_cantools_strict_and_canmatrix_without_warnings(caplog):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING):
            db = cantools.database.load_file(DBC, strict=True)
            cm = canmatrix.formats.loadp_flat(DBC)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert cm.load_errors == []
    ids = sorted(m.frame_id for m in db.messages)
    assert ids == [0x6F0] + list(range(0x701, 0x711)) + list(range(0x741, 0x751))
    assert len(cm.frames) == len(ids)
    for frame in cm.frames:
        if frame.arbitration_id.id != 0x6F0:
            assert frame.is_multiplexed
            assert [s.name for s in frame.signals if s.is_multiplexer] == ["PCI_Type"]


def test_activate_decodes():
    db = cantools.database.load_file(DBC, strict=True)
    frame = bytearray(8)
    mgmt = Cmac(bytes(range(16)))
    R.activate(mgmt, 0x01020304, frame)
    got = db.decode_message(0x6F0, bytes(frame))
    assert got["Activate_Type"] == "ACTIVATE"
    assert got["Activate_Epoch"] == 0x01020304
    assert got["Activate_MAC24"] == int.from_bytes(mgmt.digest(bytes(frame[0:5]))[0:3], "big")


def test_isotp_frames_of_an_announce_decode():
    db = cantools.database.load_file(DBC, strict=True)
    msg = R.announce(Cmac(bytes(16)), 3, 7, B.Q1_ID, R.NO_NONCE)
    frames = B.isotp_frames(0x703, 0x743, msg)
    decoded = [(can_id, db.decode_message(can_id, data)) for can_id, data in frames]
    ff = decoded[0][1]
    assert decoded[0][0] == 0x703 and ff["PCI_Type"] == "FirstFrame"
    assert ff["FF_DL"] == len(msg) == 37 and ff["FF_MsgType"] == "ANNOUNCE"
    assert ff["FF_Data"] == int.from_bytes(msg[1:6], "big")
    fc = decoded[1][1]
    assert decoded[1][0] == 0x743
    assert fc == {"PCI_Type": "FlowControl", "FC_FlowStatus": "ContinueToSend", "FC_BlockSize": 0,
                  "FC_STmin": 0}
    data = msg[1:6]
    for sn, (can_id, cf) in enumerate(decoded[2:], start=1):
        assert can_id == 0x703 and cf["PCI_Type"] == "ConsecutiveFrame" and cf["CF_SN"] == sn
        data += cf["CF_Data"].to_bytes(7, "big")
    assert data[: len(msg) - 1] == msg[1:]  # the rest is 0xCC padding
    assert set(data[len(msg) - 1:]) == {0xCC}
    # and the other way: cantools encodes a single frame the firmware reads
    sf = db.encode_message(0x705, {"PCI_Type": 0, "SF_DL": 5, "SF_MsgType": 2,
                                   "SF_Data": 0x01020304CCCC})
    assert sf == bytes.fromhex("050201020304cccc")
    rx = IsoTpReceiver()
    rx.on_frame(sf, 0)
    assert rx.pop_message() == bytes((2, 1, 2, 3, 4))
