# Raw throughput of the discrete-event bus model: 32 nodes keep the bus at
# 100% load with 8-byte standard frames (each node queues its next frame when
# it sees its own go out; every node's receive() counts). Prints the frames
# simulated per wall second and the multiple of real time that means on a
# 500 kbit/s bus (3704 such frames per second of bus time).
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from emulator.bus import CanBus  # noqa: E402
from emulator.clock import Clock  # noqa: E402
from emulator.timing import frame_duration_ns  # noqa: E402

NODES = 32
FRAMES = 100_000


def run():
    clock = Clock()
    bus = CanBus(clock, random.Random(1))
    seen = [0]

    def make(i):
        def receive(frame, is_rx):
            if is_rx:
                seen[0] += 1
            else:
                frame.sender.send(frame.can_id, frame.data)
        return receive

    for i in range(NODES):
        bus.attach("ecu%d" % i, make(i)).send(0x100 + i, bytes(8))
    t_frame = frame_duration_ns(8)
    start = time.perf_counter()
    clock.run_until(FRAMES * t_frame)
    wall = time.perf_counter() - start
    assert bus.frames == FRAMES and seen[0] == FRAMES * (NODES - 1)
    return FRAMES / wall, (FRAMES * t_frame / 1e9) / wall


if __name__ == "__main__":
    fps, factor = max(run() for _ in range(3))
    print("BENCH bus_frames_per_s %.0f frames/s" % fps)
    print("BENCH bus_realtime_factor_32_nodes %.1f x" % factor)
