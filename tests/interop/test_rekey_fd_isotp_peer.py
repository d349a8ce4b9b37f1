# The rekey protocol's CAN FD framing (docs/rekey-protocol.md, "CAN FD
# framing") read by a real ISO 15765-2 peer: the frames the agents put on
# the bus during FD rekeys are fed to `can-isotp` (python-can virtual bus,
# no threads), which must reassemble exactly the messages of the protocol,
# each authentic under its slave's K_auth.
import itertools

import can
import isotp

from keyagent.crypto.cmac import Cmac
from keyagent.rekey import messages as msgs
from test_agent_fd import RecordingSim, fd_config
from vehicle_sim import AUTH

_channels = itertools.count()


def reassembled(frames, can_id):
    # What can-isotp, listening on can_id with CAN FD and TX_DL 64, makes of
    # the frames sent on it (flow control frames on that ID are ignored:
    # they answer our own senders).
    channel = "rekey-fd-%d" % next(_channels)
    wire = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
    peer_bus = can.Bus(interface="virtual", channel=channel, receive_own_messages=False)
    address = isotp.Address(isotp.AddressingMode.Normal_11bits, txid=0x7FF, rxid=can_id)
    peer = isotp.CanStack(peer_bus, address=address,
                          params={"can_fd": True, "tx_data_length": 64, "max_frame_size": 4095})
    out = []
    try:
        for data in frames:
            wire.send(can.Message(arbitration_id=can_id, data=data, is_extended_id=False,
                                  is_fd=True, bitrate_switch=True))
            for _ in range(3):
                peer.process()
            while peer.available():
                out.append(bytes(peer.recv()))
    finally:
        wire.shutdown()
        peer_bus.shutdown()
    return out


def test_can_isotp_reads_every_fd_rekey_message():
    sim = RecordingSim(fd_config(direct=1, gateway=1))
    sim.run(1200, traffic_every=0)
    assert set(sim.epochs().values()) == {2}
    for node in (1, 2):
        auth = Cmac(bytes.fromhex(AUTH % node))
        down = [f[2] for f in sim.frames if f[1] == 0x700 + node and f[2][0] >> 4 != 3]
        up = [f[2] for f in sim.frames if f[1] == 0x740 + node and f[2][0] >> 4 != 3]
        to_slave = reassembled(down, 0x700 + node)
        to_master = reassembled(up, 0x740 + node)
        assert len(to_slave) >= 2 and len(to_master) >= 3, (node, to_slave, to_master)
        for msg in to_slave:
            body = msgs.open_sealed(auth, node, msg, 1)
            assert body is not None and body[0] in (msgs.ANNOUNCE, msgs.DELIVER), msg.hex()
            assert len(msg) == (msgs.ANNOUNCE_BODY if body[0] == msgs.ANNOUNCE else msgs.DELIVER_BODY) + msgs.MAC_LEN
        # The direct slave is announced to, the other gets DELIVER (FF + CF).
        assert (msgs.ANNOUNCE if node == 1 else msgs.DELIVER) in [m[0] for m in to_slave]
        kinds = [m[0] for m in to_master]
        assert msgs.JOIN in kinds and (msgs.ACK if node == 1 else msgs.DELIVERED) in kinds, kinds
        for msg in to_master:
            if msg[0] == msgs.JOIN:
                assert msgs.open_sealed(auth, node, msg, msgs.JOIN_BODY) is not None
            elif msg[0] == msgs.DELIVERED:
                assert len(msg) == 21
