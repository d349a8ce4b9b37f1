# The rekey protocol on CAN FD (docs/rekey-protocol.md, "CAN FD framing"):
# with "isotp_tx_dl": 64 every rekey message up to 62 bytes is one ISO-TP
# single frame with the FD escape, DELIVER is a first frame and one
# consecutive frame, and the vehicle reaches its epochs as on classic CAN.
from vehicle_sim import KeyPool, Sim, config
from keyagent.rekey import messages as msgs

# Whole message lengths (docs/rekey-protocol.md, "Messages"): sealed ones
# carry an 8-byte MAC after the body.
SIZES = {"announce": msgs.ANNOUNCE_BODY + msgs.MAC_LEN, "ack": 13, "delivered": 21,
         "join": msgs.JOIN_BODY + msgs.MAC_LEN, "deliver": msgs.DELIVER_BODY + msgs.MAC_LEN}


class RecordingSim(Sim):
    def __init__(self, configs):
        self.frames = []
        # QKD keys of their own (not those of the other tests' vehicles):
        # the key-remnant heap scans must not find ours.
        pool = KeyPool()
        pool.count = 100
        Sim.__init__(self, configs, pool)

    def boot(self, node):
        a = Sim.boot(self, node)
        pop = a.pop_frames

        def recorded():
            out = pop()
            for can_id, data, fd in out:
                if can_id >= 0x6F0:  # the rekey protocol's frames only
                    self.frames.append((node, can_id, bytes(data), fd))
            return out

        a.pop_frames = recorded
        return a


def fd_config(direct=2, gateway=2):
    configs = config(direct, gateway)
    for c in configs.values():
        c["isotp_tx_dl"] = 64
    return configs


def rekey_frames(sim):
    return sim.frames


def test_fd_rekey_messages_are_single_frames_and_deliver_two():
    sim = RecordingSim(fd_config())
    sim.run(1500)
    assert set(sim.epochs().values()) == {2}
    assert sim.app_rejections() - sum(a.rejected.get("no_key", 0) for a in sim.agents.values()) == 0
    kinds = {}
    for node, can_id, data, fd in rekey_frames(sim):
        assert fd, hex(can_id)  # every rekey frame goes in CAN FD format
        pci = data[0] >> 4
        if can_id == 0x6F0:
            assert len(data) == 8 and data[0] == 0x10  # ACTIVATE
            kinds["activate"] = kinds.get("activate", 0) + 1
        elif pci == 0:
            # Single frame: SF_DL escape (byte 0 = 0x00, length in byte 1)
            # above 8 bytes, padded with 0xCC to a CAN FD length.
            assert data[0] == 0 and 8 <= data[1] <= 62, data.hex()
            n = data[1]
            assert len(data) == [d for d in (12, 16, 20, 24, 32, 48, 64) if d >= n + 2][0]
            assert data[2 + n:] == b"\xcc" * (len(data) - 2 - n)
            name = {1: "announce", 2: "ack", 5: "delivered", 6: "join"}[data[2]]
            kinds[name] = kinds.get(name, 0) + 1
            assert n == SIZES[name]
        elif pci == 1:
            # DELIVER: a first frame of 64 bytes (62 of the message), then
            # one CF with the rest, padded to a CAN FD length.
            assert len(data) == 64 and data[0:3] == bytes((0x10, SIZES["deliver"], 4)), data.hex()
            kinds["deliver_ff"] = kinds.get("deliver_ff", 0) + 1
        elif pci == 2:
            rest = SIZES["deliver"] - 62
            dl = [d for d in (12, 16, 20, 24, 32, 48, 64) if d >= rest + 1][0]
            assert data[0] == 0x21 and len(data) == dl and data[1 + rest:] == b"\xcc" * (dl - 1 - rest)
            kinds["deliver_cf"] = kinds.get("deliver_cf", 0) + 1
        else:
            assert data == b"\x30\x00\x00", data.hex()  # flow control, unpadded
            kinds["fc"] = kinds.get("fc", 0) + 1
    # Two rekeys: the joins at start-up, two direct slaves announced to
    # twice, two gateway slaves delivered to at each join and each rekey.
    assert kinds["announce"] == kinds["ack"] == 4
    assert kinds["deliver_ff"] == kinds["deliver_cf"] == kinds["delivered"] == kinds["fc"]
    assert kinds["join"] >= 4 and kinds["activate"] >= 6  # ACTIVATE is repeated as a beacon


def test_classic_channels_stay_eight_byte_frames():
    sim = RecordingSim(config(2, 1))
    sim.run(600)
    assert set(sim.epochs().values()) == {1}
    for node, can_id, data, fd in rekey_frames(sim):
        assert not fd and len(data) == 8
