# CPython benchmarks of the key network and the V2I handshake:
#   kme_relay_keys_per_s  256-bit keys relayed end to end across a 3-hop
#                         network (one-time pad per hop); the links' pools are
#                         full and far larger than the run needs, so the QKD
#                         key rate is not the limit, the software is.
#   v2i_handshake_ms      one hybrid QKD + ML-KEM-768 handshake, both sides in
#                         process (HELLO, RSU key fetch, ACCEPT, confirmation).
import time

from emulator import v2i
from emulator.key_network import KeyNetwork
from emulator.key_network_spec import check

KEYS = 2000


def network():
    names = ["a", "b", "c", "d"]
    spec = check({"max_keys": 4 * KEYS, "prefill": True, "seed": 1,
                  "kme": [{"name": n, "saes": [n + "-sae"]} for n in names],
                  "link": [{"between": [x, y], "km": 10} for x, y in zip(names, names[1:])]})
    return KeyNetwork(spec)


def bench_relay():
    net = network()
    t0 = time.perf_counter()
    done = 0
    while done < KEYS:
        keys, path = net.issue("a-sae", "d-sae", 100)
        if len(path) != 4:
            raise RuntimeError("expected 3 hops, got %r" % path)
        net.fetch("a-sae", "d-sae", [k for k, _ in keys])
        done += len(keys)
    return done / (time.perf_counter() - t0)


def bench_handshake(rounds):
    store = {}
    rsu = v2i.RoadsideHandshakes(lambda vehicle, key_id: store.pop(key_id, None))
    t0 = time.perf_counter()
    for i in range(rounds):
        key_id = i.to_bytes(16, "big")
        store[key_id] = bytes(32)
        car = v2i.VehicleHandshake("vehicle-1", key_id, bytes(32))
        reply, _ = rsu.on_hello(car.hello())
        car.on_reply(reply)
    return 1000 * (time.perf_counter() - t0) / rounds


print("BENCH kme_relay_keys_per_s %.0f keys/s" % bench_relay())
print("BENCH v2i_handshake_ms %.2f ms" % bench_handshake(50))
