# Attackers on the emulated bus. Each is a bus node of its own, so every
# frame it injects is known to be an attack when an ECU judges it.
#   replay: records the target PDU's recent frames and sends them again.
#   spoof:  forges a target PDU: plausible payload and freshness bits, a
#           guessed MAC.
#   tamper: takes each new frame of the target PDU and resends it with one
#           payload bit flipped.
#   flood:  sends frames on a high-priority ID as fast as asked (denial of
#           service by arbitration); no ECU accepts them as SecOC PDUs.
from emulator.clock import S

_REPLAY_WINDOW = 16  # replays pick among the target's latest frames


class Attacker:
    def __init__(self, vehicle, spec, index):
        self.vehicle = vehicle
        self.kind = spec["kind"]
        self.spec = spec
        self.rng = vehicle.rng_for("attack%d" % index)
        self.node = vehicle.bus.attach("attacker%d-%s" % (index, self.kind), self._observe)
        self.injected = 0
        self.accepted = 0
        self.rejected = {}  # reason -> receivers that rejected
        self.recorded = []  # the most recent frames of the target, oldest first
        self.last = None
        msg = vehicle.message(spec["target"]) if "target" in spec else None
        self.can_id = msg.frame_id if msg is not None else spec.get("can_id", 0)
        self.fd = msg.is_fd if msg is not None else False
        self.length = msg.length if msg is not None else 8
        self.layout = msg.layout() if msg is not None else None
        start = int(spec.get("at_s", 0) * S)
        self.stop = start + int(spec.get("duration_s", 1) * S)
        self.gap = int(S / spec.get("rate_hz", 10))
        vehicle.clock.call_at(start, self._tick)

    def _observe(self, frame, is_rx):
        if is_rx and frame.can_id == self.can_id and frame.sender is not self.node:
            self.last = frame.data
            self.recorded.append(frame.data)
            if len(self.recorded) > _REPLAY_WINDOW:
                del self.recorded[0]

    def _tick(self):
        clock = self.vehicle.clock
        if clock.now >= self.stop:
            return
        data = self._forge()
        if data is not None:
            self.node.send(self.can_id, data, fd=self.fd)
            self.injected += 1
        clock.call_later(self.gap, self._tick)

    def _forge(self):
        if self.kind == "flood":
            return bytes(self.length)
        if self.kind == "replay":
            return self.recorded[self.rng.randrange(len(self.recorded))] if self.recorded else None
        if self.last is None:
            return None
        data = bytearray(self.last)
        start, bits = self.layout["authentic"]
        if self.kind == "tamper":
            bit = start + self.rng.randrange(bits)
            data[bit >> 3] ^= 0x80 >> (bit & 7)
            return bytes(data)
        # spoof: a new payload, the next freshness bits, a guessed MAC
        for i in range(start >> 3, (start + bits) >> 3):
            data[i] = self.rng.randrange(256)
        fv_start, fv_bits = self.layout["fv"]
        _put(data, fv_start, fv_bits, _get(data, fv_start, fv_bits) + 1)
        mac_start, mac_bits = self.layout["mac"]
        _put(data, mac_start, mac_bits, self.rng.getrandbits(mac_bits))
        return bytes(data)


def _get(data, start, bits):
    value = int.from_bytes(data, "big")
    return (value >> (8 * len(data) - start - bits)) & ((1 << bits) - 1)


def _put(data, start, bits, field):
    shift = 8 * len(data) - start - bits
    mask = ((1 << bits) - 1) << shift
    value = (int.from_bytes(data, "big") & ~mask) | ((field << shift) & mask)
    data[:] = value.to_bytes(len(data), "big")
