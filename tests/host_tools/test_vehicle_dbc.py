# can_dbc/vehicle.dbc loads cleanly in cantools (strict) and canmatrix, its
# FV and MAC signals sit exactly where AUTOSAR SecOC puts them in the secured
# I-PDU (authentic PDU, truncated FV, truncated MAC, MSB first), and the
# emulator's traffic encodes and decodes with cantools.
import logging
import random
import warnings

import canmatrix.formats
import cantools
import pytest

from emulator.bus import CanBus
from emulator.clock import MS, Clock
from emulator.traffic import DEFAULT_DBC, Traffic, load_app_messages, secured_pdu


def msb_first_offset(signal):
    # DBC big-endian start bit is the MSB in sawtooth numbering (bit 7 = MSB of byte 0)
    return (signal.start // 8) * 8 + (7 - signal.start % 8)


def test_loads_in_cantools_strict_and_canmatrix_without_warnings(caplog):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with caplog.at_level(logging.WARNING):
            db = cantools.database.load_file(DEFAULT_DBC, strict=True)
            cm = canmatrix.formats.loadp_flat(DEFAULT_DBC)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert cm.load_errors == []
    assert len(db.messages) == len(cm.frames) == 6
    assert sorted(m.name for m in db.messages if m.is_fd) == ["AdasCommand", "WheelSpeeds"]
    for frame in cm.frames:
        assert frame.attribute("SecOC_DataID") is not None


def test_secoc_fields_match_secured_pdu_layout():
    for m in load_app_messages():
        sigs = {s.name: s for s in m.db_message.signals}
        fv, mac = sigs[m.name + "_FV"], sigs[m.name + "_MAC"]
        layout = m.layout()
        assert fv.byte_order == mac.byte_order == "big_endian"
        assert (msb_first_offset(fv), fv.length) == layout["fv"], m.name
        assert (msb_first_offset(mac), mac.length) == layout["mac"], m.name
        assert (m.fv_bits, m.mac_bits) == ((8, 24) if m.profile == 1 else (4, 28))
        # the secured PDU fills the frame exactly; authentic signals stay in the authentic PDU
        assert 8 * m.authentic_len + m.fv_bits + m.mac_bits == 8 * m.length
        for s in m.db_message.signals:
            if s not in (fv, mac):
                assert s.byte_order == "little_endian" and s.start + s.length <= 8 * m.authentic_len


def test_msb_first_packing_decodes_with_cantools():
    rng = random.Random(5)
    for m in load_app_messages():
        for _ in range(20):
            authentic = rng.randbytes(m.authentic_len)
            fv = rng.getrandbits(m.fv_bits)
            mac = rng.getrandbits(m.mac_bits)
            pdu = secured_pdu(m, authentic, fv, mac)
            assert len(pdu) == m.length and pdu[: m.authentic_len] == authentic
            decoded = m.db_message.decode(pdu, decode_choices=False, scaling=False)
            assert (decoded[m.name + "_FV"], decoded[m.name + "_MAC"]) == (fv, mac)


def test_traffic_payloads_encode_and_decode():
    msgs = load_app_messages()
    clock = Clock()
    sent = []
    traffic = Traffic(msgs, random.Random(11))
    traffic.start(clock, lambda m, payload: sent.append((clock.now, m, payload)))
    clock.run_until(200 * MS)
    counts = {m.name: sum(1 for _, x, _ in sent if x is m) for m in msgs}
    assert counts == {m.name: 200 // (m.period_ns // MS) for m in msgs}
    for t, m, payload in sent:
        assert len(payload) == m.authentic_len
        decoded = m.db_message.decode(secured_pdu(m, payload, 0, 0), decode_choices=False)
        for s in m.db_message.signals:
            if s.minimum is not None:
                assert s.minimum - 1e-9 <= decoded[s.name] <= s.maximum + 1e-9, (m.name, s.name)
    # plausible: counters roll over by one per period
    brake = [m.db_message.decode(secured_pdu(m, p, 0, 0))["BrakeCounter"]
             for _, m, p in sent if m.name == "BrakePedal"]
    assert brake[:5] == [1, 2, 3, 4, 5]


def test_traffic_is_deterministic_and_has_metadata():
    def run(seed):
        clock = Clock()
        out = []
        Traffic(load_app_messages(), random.Random(seed)).start(
            clock, lambda m, p: out.append((clock.now, m.frame_id, m.data_id, m.profile, m.is_fd, p)))
        clock.run_until(100 * MS)
        return out

    assert run(1) == run(1) != run(2)
    assert {(e[1], e[2], e[3], e[4]) for e in run(1)} == {
        (0xA0, 16, 1, True), (0xB0, 17, 3, False), (0xC0, 18, 1, False), (0x100, 32, 1, False),
        (0x120, 33, 3, True), (0x1A0, 64, 3, False)}


def test_traffic_load_on_500k_bus():
    # worst-case stuffing at 500 kbit/s / 2 Mbit/s: four 8-byte classic frames of
    # 270 us (10, 10, 20, 100 ms) = 0.0702; WheelSpeeds FD 12 B: 32 nominal +
    # 155 data bits = 141.5 us per 10 ms; AdasCommand FD 20 B: 32 + 240 bits =
    # 184 us per 20 ms
    load = Traffic(load_app_messages(), random.Random(0)).load(CanBus(Clock()))
    assert load == pytest.approx(0.0936, abs=0.0005)


def test_frames_protected_by_keyagent_secoc_decode_with_cantools():
    # The emulator's payloads, protected by the firmware's SecOC engine with
    # each message's profile and Data ID, decode in cantools: authentic
    # signals unchanged, FV signal = truncated FV, MAC signal = truncated CMAC.
    from keyagent.crypto.cmac import Cmac, aes_cmac
    from keyagent.secoc.freshness import CounterFreshness
    from keyagent.secoc.engine import SecOCTx, layout_for_profile

    key = bytes(range(16))
    clock = Clock()
    sent = []
    Traffic(load_app_messages(), random.Random(3)).start(clock, lambda m, p: sent.append((m, p)))
    clock.run_until(50 * MS)
    senders = {}
    out = bytearray(64)
    for m, payload in sent:
        if m.frame_id not in senders:
            lay = layout_for_profile(m.profile, m.data_id, m.authentic_len, fd=m.is_fd)
            tx = SecOCTx(lay, CounterFreshness(lay.fv_bits, lay.tx_fv_bits))
            tx.key = Cmac(key)
            senders[m.frame_id] = tx
        tx = senders[m.frame_id]
        n = tx.protect(payload, len(payload), out)
        assert n == m.length, m.name
        frame = bytes(out[:n])
        fv = tx.fvm.counter
        mac_input = m.data_id.to_bytes(2, "big") + payload + fv.to_bytes(tx.layout.fv_bytes, "big")
        mac = int.from_bytes(aes_cmac(key, mac_input), "big") >> (128 - m.mac_bits)
        decoded = m.db_message.decode(frame, decode_choices=False)
        assert decoded[m.name + "_FV"] == fv & ((1 << m.fv_bits) - 1)
        assert decoded[m.name + "_MAC"] == mac
        plain = m.db_message.decode(secured_pdu(m, payload, 0, 0), decode_choices=False)
        for s in m.db_message.signals:
            if not s.name.endswith(("_FV", "_MAC")):
                assert decoded[s.name] == plain[s.name]
    assert len(senders) == 6
