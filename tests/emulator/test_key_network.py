# The key network (emulator.key_network): the trusted-node relay's one-time
# pad arithmetic checked against an independent computation from the hop
# keys, routing around a hop in alarm, refusal when no path is left, keys
# bound to their (master, slave) SAE pair, and the description's errors.
import os

import pytest

from emulator import qkd_errors as err
from emulator.key_network import RELAY, KeyNetwork
from emulator.key_network_spec import NetworkSpecError, check, load
from mpy_interpreter import ROOT

NETWORK = os.path.join(ROOT, "scenarios", "network.toml")


@pytest.fixture
def net():
    spec = load(NETWORK)
    spec["seed"] = 11
    return KeyNetwork(spec)


def record_pads(net):
    # Every hop key a link hands out, as its pair issued it (the test's own
    # copy, taken before the relay code touches it).
    pads = {}
    for pair in net.links.values():
        def take(side, count, size_bits=None, bound_to=None, _take=pair.take_new_keys):
            keys = _take(side, count, size_bits, bound_to)
            assert bound_to == RELAY
            pads.update((bytes(k), bytes(v)) for k, v in keys)
            return keys
        pair.take_new_keys = take
    return pads


def test_relay_one_time_pads_each_hop_with_that_hops_key(net):
    pads = record_pads(net)
    [(key_id, key)], path = net.issue("vehicle-1", "rsu-4", 1)
    assert path == ["depot", "node-1", "node-3", "kme-rsu-4"]
    hops = list(net.transcript)
    assert [(u, v) for u, v, _, _ in hops] == list(zip(path, path[1:]))
    for u, v, pad_id, wire in hops:
        pad = pads[pad_id]
        # Independently: bytewise XOR of the key with this hop's QKD key.
        assert wire == bytes(k ^ p for k, p in zip(key, pad))
        assert wire != key and len(wire) == len(key) == 32
    assert len({pad_id for _, _, pad_id, _ in hops}) == 3  # a fresh pad per hop
    assert net.fetch("vehicle-1", "rsu-4", [key_id]) == [key]
    # The pads were used up on both ends of each link: nobody can take them again.
    for u, v, pad_id, _ in hops:
        with pytest.raises(err.KeyNotFound):
            net.link(u, v).take_key_by_id(v, pad_id, RELAY)


def test_a_hop_in_alarm_is_routed_around_and_refuses_when_no_path_is_left(net):
    net.set_eavesdrop("node-1", "node-3", 0.5)
    [(key_id, key)], path = net.issue("vehicle-2", "rsu-4", 1)
    assert path == ["depot", "node-1", "node-2", "node-3", "kme-rsu-4"]
    assert not any({u, v} == {"node-1", "node-3"} for u, v, _, _ in net.transcript)
    assert net.fetch("vehicle-2", "rsu-4", [key_id]) == [key]
    net.set_eavesdrop("node-1", "node-2", 0.5)
    with pytest.raises(err.NoQkdConnection):
        net.issue("vehicle-2", "rsu-4", 1)
    assert net.issue("vehicle-2", "fleet-backend", 1)[1] == ["depot", "node-1", "backend"]


def test_short_pools_refuse_with_insufficient_key():
    spec = check({"max_keys": 4, "prefill": False, "kme": [{"name": "a", "saes": ["x"]},
                  {"name": "b", "saes": ["y"]}], "link": [{"between": ["a", "b"], "km": 10}]})
    net = KeyNetwork(spec)
    with pytest.raises(err.InsufficientKey):
        net.issue("x", "y", 1)
    net.advance(1.0)
    assert len(net.issue("x", "y", 4)[0]) == 4


def test_keys_are_bound_to_their_master_and_slave(net):
    [(key_id, key)], _ = net.issue("vehicle-1", "rsu-1", 1)
    for master, slave in (("vehicle-2", "rsu-1"), ("vehicle-1", "rsu-2"), ("rsu-1", "vehicle-1")):
        with pytest.raises(err.KeyNotFound):
            net.fetch(master, slave, [key_id])
    with pytest.raises(err.KeyNotFound):  # a repeated ID takes nothing
        net.fetch("vehicle-1", "rsu-1", [key_id, key_id])
    assert net.fetch("vehicle-1", "rsu-1", [key_id]) == [key]
    with pytest.raises(err.KeyNotFound):
        net.fetch("vehicle-1", "rsu-1", [key_id])


def test_keys_between_saes_of_one_kme_are_not_relayed(net):
    (_, path) = net.issue("vehicle-1", "vehicle-2", 2)
    assert path == ["depot"] and not net.transcript


@pytest.mark.parametrize("doc, message", [
    ({"kme": [{"name": "a"}], "bogus": 1}, "unknown network keys"),
    ({"kme": [{"name": "a"}, {"name": "a"}]}, "names must differ"),
    ({"kme": [{"name": "a", "saes": ["x"]}, {"name": "b", "saes": ["x"]}]}, "one KME only"),
    ({"kme": [{"name": "a"}], "link": [{"between": ["a", "z"], "km": 1}]}, "two different KMEs"),
    ({"kme": [{"name": "a"}, {"name": "b"}], "link": [{"between": ["a", "b"]}]}, "km must be"),
    ({"kme": [{"name": "a"}, {"name": "b"}], "link": [{"between": ["a", "b"], "km": 1, "eavesdrop": 2}]},
     "within 0..1"),
    ({"key_size": 100}, "multiple of 8"),
    ({"kme": [{"name": "a/b"}]}, "kme name"),
])
def test_bad_descriptions_say_what_is_wrong(doc, message):
    with pytest.raises(NetworkSpecError, match=message):
        check(doc)
