# The virtual vehicle:
#   rekey_latency_ms: announce to the last ECU on the new epoch, in bus time,
#     16 ECUs (2 with QKD modules, 13 through SHE delivery) at 50% bus load,
#     the rekey messages in CAN FD frames (ISO-TP CAN_DL 64, 2 Mbit/s data
#     phase); the mean over the rekeys of a 20 s run (the max beside it).
#   rekey_latency_classic_ms: the same with the rekey in classic CAN frames.
#   emulator_realtime_factor: 32 ECUs at 100% load on a 500 kbit/s bus,
#     vehicle time per CPU second of this process (one core).
import os
import tempfile
import time

from emulator import scenario, synthetic
from emulator.vehicle import Vehicle


def vehicle(tmp, n_ecus, load, duration_s, period_ms, can_fd=False):
    path = os.path.join(tmp, "synthetic%d.dbc" % n_ecus)
    with open(path, "w") as f:
        f.write(synthetic.dbc_text(n_ecus, period_ms))
    s = synthetic.scenario(path, n_ecus, duration_s, load)
    s["rekey"]["can_fd"] = can_fd
    return Vehicle(scenario.validate(s))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, can_fd in (("rekey_latency", True), ("rekey_latency_classic", False)):
            lat = vehicle(tmp, 16, 0.5, 20.0, 20, can_fd).run()["rekey_latency_ms"]
            print("BENCH %s_ms %.1f ms" % (name, lat["mean"]))
            print("BENCH %s_max_ms %.1f ms" % (name, lat["max"]))
        v = vehicle(tmp, 32, 1.0, 10.0, 20)
        t0 = time.process_time()
        s = v.run()
        cpu = time.process_time() - t0
        print("BENCH emulator_realtime_factor %.1f x" % (s["duration_s"] / cpu))
        print("BENCH emulator_bus_load %.2f fraction" % s["bus_load"])


main()
