# Peer garbage on every ID a key agent listens to: ISO-TP channels (so whole
# rekey messages), ACTIVATE and application PDUs. Nothing may raise, no
# epoch may change, and only counted rejections may result.

from hypothesis import given, settings, strategies as st

from vehicle_sim import Sim, config  # noqa: E402

from keyagent.rekey import messages as msgs  # noqa: E402
from keyagent.rekey.ids import ACTIVATE_ID, to_master_id, to_slave_id

SIM = Sim(config(direct=1, gateway=1))
SIM.run(600)


def listened_ids(agent):
    return sorted(set(agent.by_can_id) | set(agent.links) | {ACTIVATE_ID})


def iso_single(payload):
    # One ISO-TP single frame carrying a whole (garbage) rekey message.
    return bytes((len(payload),)) + payload + b"\xcc" * (7 - len(payload))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([0, 1, 2]), st.data())
def test_garbage_never_raises_nor_moves_an_epoch(node, data):
    agent = SIM.agents[node]
    before = agent.current.epoch
    can_id = data.draw(st.sampled_from(listened_ids(agent)))
    kind = data.draw(st.sampled_from(["raw", "iso", "typed"]))
    if kind == "raw":
        frame = data.draw(st.binary(max_size=64))
    elif kind == "iso":
        frame = iso_single(data.draw(st.binary(min_size=1, max_size=7)))
    else:
        msg_type = data.draw(st.sampled_from([msgs.ANNOUNCE, msgs.ACK, msgs.NACK, msgs.DELIVER,
                                              msgs.DELIVERED, msgs.JOIN, msgs.ACTIVATE]))
        frame = iso_single(bytes((msg_type,)) + data.draw(st.binary(max_size=6)))
    agent.on_frame(can_id, frame, SIM.t)
    agent.poll(SIM.t)
    agent.pop_frames()
    assert agent.current.epoch == before
    if agent.keys.pending is not None:
        assert agent.keys.pending.epoch == before + 1


def test_the_vehicle_still_works_after_the_garbage():
    SIM.run(1500)
    assert len(set(SIM.epochs().values())) == 1 and SIM.epochs()[0] >= 2
    assert to_master_id(1) in SIM.agents[0].links and to_slave_id(1) in SIM.agents[1].links
