# The observer is fed whatever is on the bus: random frames on the SecOC,
# ACTIVATE and ISO-TP identifiers (interleaved with a genuine rekey) never
# raise, and every verdict is one of the documented ones.
from hypothesis import given, settings, strategies as st

import secoc_trace_builder as B
from host_tools.observer_inputs import Keys, parse_config
from host_tools.secoc_observer import ISOTP, PLAIN, Observer
from keyagent.secoc.engine import REASONS

IDS = [0xB0, 0xC0, 0x6F0, 0x701, 0x702, 0x741, 0x742, 0x73F, 0x77F, 0x123]
GENUINE = B.build()

frame = st.tuples(st.sampled_from(IDS), st.binary(min_size=0, max_size=64), st.booleans())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(GENUINE)), frame), max_size=40))
def test_garbage_never_raises(inserts):
    obs = Observer(parse_config(B.CONFIG), Keys({B.Q1_ID: B.Q1}))
    frames = [(t, can_id, data, False) for t, can_id, data in GENUINE]
    for pos, (can_id, data, ext) in sorted(inserts, key=lambda x: -x[0]):
        t = frames[min(pos, len(frames) - 1)][0]
        frames.insert(pos, (t, can_id, data, ext))
    allowed = set(REASONS) | {PLAIN, ISOTP}
    for t, can_id, data, ext in frames:
        assert obs.on_frame(t, can_id, data, ext) in allowed
    obs.table()
    obs.report()


MULTI_IDS = [0xB0, 0xC0, 0x6F1, 0x6F0, 0x123]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from(MULTI_IDS), st.binary(min_size=0, max_size=16)),
                max_size=30))
def test_garbage_on_a_multi_counter_bus_never_raises_nor_moves_the_counters(inserts):
    # Random frames (the sync message's ID among them) between the genuine
    # syncs and frames of tests/helpers/multi_counter_bus.py: nothing
    # raises, verdicts are documented ones, and the counters the observer
    # holds are the genuine FV master's (a random 8-byte sync fails its
    # 28-bit MAC but for a 2^-28 chance).
    from keyagent.secoc.fv_sync import SYNC_REASONS
    from multi_counter_bus import CONFIG, K1, Bus

    obs = Observer(parse_config(CONFIG), Keys(epoch_keys={1: K1}))
    bus = Bus(obs)
    frames = bus.genuine(cycles=3, per_cycle=5)
    for pos, can_id, data in sorted(inserts, key=lambda x: -x[0]):
        frames.insert(pos, (frames[min(pos, len(frames) - 1)][0], can_id, data))
    allowed = set(REASONS) | set(SYNC_REASONS) | {PLAIN}
    for t, can_id, data in frames:
        assert obs.on_frame(t, can_id, data) in allowed
    s = obs.sync.state
    assert (s.trip, s.reset) == (bus.master.state.trip, bus.master.state.reset) == (4, 2)
    obs.table()
    obs.report()
