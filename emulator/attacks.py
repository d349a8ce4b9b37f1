# Attackers on the emulated bus. Each is a bus node of its own, so every
# frame it injects is known to be an attack when an ECU judges it.
#   replay: records the target PDU's recent frames and sends them again.
#   spoof:  forges a target PDU: plausible payload and freshness bits, a
#           guessed MAC.
#   tamper: takes each new frame of the target PDU and resends it with one
#           payload bit flipped.
#   flood:  sends frames on a high-priority ID as fast as asked (denial of
#           service by arbitration); no ECU accepts them as SecOC PDUs.
# RekeyAttacker (below) goes for the rekey protocol's frames instead:
#   isotp_hog:    forged ISO-TP First Frames on the slaves' channels to the
#                 master (ecu: one slave, else all), to tie up its receivers.
#   fc_abuse:     forged Flow Control frames (overflow, wait, reserved STmin)
#                 answering the master's First Frames to ecu.
#   rekey_replay: whole rekey messages recorded earlier in the run, sent
#                 again once the master is on a later epoch.
#   join_replay:  ecu's recorded JOIN messages, sent again.
from keyagent.rekey.ids import ACTIVATE_ID, M2S_BASE, S2M_BASE, to_master_id
from keyagent.rekey.messages import JOIN

from emulator.clock import S

REKEY_KINDS = ("isotp_hog", "fc_abuse", "rekey_replay", "join_replay")
# What an attacker frame may make an ECU do that it must not: counted as accepted.
_EFFECTS = ("key_installed", "epoch_active", "epoch_announced", "slave_join", "redelivery_limit")
_FORGED_FC = (b"\x32\x00\x00", b"\x31\x00\x00", b"\x30\x00\xf0", b"\x30\x00\x80")  # OVFLW, WAIT, reserved STmin
_MAX_RECORDED = 64

_REPLAY_WINDOW = 16  # replays pick among the target's latest frames


class _AttackerNode:
    # What every attacker has: its station on the bus, its schedule (at_s,
    # duration_s, rate_hz) and its counts.
    def __init__(self, vehicle, spec, index):
        self.vehicle = vehicle
        self.kind = spec["kind"]
        self.spec = spec
        self.rng = vehicle.rng_for("attack%d" % index)
        self.node = vehicle.bus.attach("attacker%d-%s" % (index, self.kind), self._observe)
        self.injected = 0
        self.accepted = 0
        self.rejected = {}  # reason -> receivers that rejected
        self.start = int(spec.get("at_s", 0) * S)
        self.stop = self.start + int(spec.get("duration_s", 1) * S)
        self.gap = int(S / spec.get("rate_hz", 10))


class Attacker(_AttackerNode):
    def __init__(self, vehicle, spec, index):
        super().__init__(vehicle, spec, index)
        self.recorded = []  # the most recent frames of the target, oldest first
        self.last = None
        msg = vehicle.message(spec["target"]) if "target" in spec else None
        self.can_id = msg.frame_id if msg is not None else spec.get("can_id", 0)
        self.fd = msg.is_fd if msg is not None else False
        self.length = msg.length if msg is not None else 8
        self.layout = msg.layout() if msg is not None else None
        self.target = spec.get("target", "0x%X" % self.can_id)
        vehicle.clock.call_at(self.start, self._tick)

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


class RekeyAttacker(_AttackerNode):
    """An attacker on the rekey protocol's frames (kinds in REKEY_KINDS). It
    holds no keys: it forges headers and sends again what it recorded."""

    def __init__(self, vehicle, spec, index):
        super().__init__(vehicle, spec, index)
        slaves = sorted(n for n in vehicle.nodes.values() if n != 0)
        self.slaves = [vehicle.nodes[spec["ecu"]]] if "ecu" in spec else slaves
        self.target = spec.get("ecu", "all slaves")
        self.recorded = []  # (master's epoch then, [frames of one ISO-TP message or ACTIVATE])
        self._partial = {}  # can_id -> frames of a message being recorded
        self.next_at = self.start
        self.turn = 0
        if self.kind != "fc_abuse":  # that one answers the master's transfers instead
            vehicle.clock.call_at(self.start, self._tick)

    def on_handled(self, counted_before, counted, events):
        # An ECU handled one of our frames: what it counted as rejected, and
        # whether it did something it must not (then the frame was accepted).
        for reason, n in counted.items():
            if n > counted_before.get(reason, 0):
                self.rejected[reason] = self.rejected.get(reason, 0) + n - counted_before.get(reason, 0)
        if any(kind in _EFFECTS for _, kind, _ in events):
            self.accepted += 1

    def _active(self):
        return self.start <= self.vehicle.clock.now < self.stop

    def _observe(self, frame, is_rx):
        if not is_rx or frame.sender is self.node:
            return
        data = bytes(frame.data)
        can_id = frame.can_id
        if self.kind == "fc_abuse":
            if can_id - M2S_BASE in self.slaves and data and data[0] >> 4 == 1 and self._active() \
                    and self.vehicle.clock.now >= self.next_at:
                # The master starts a transfer: answer for the slave first.
                fc = _FORGED_FC[self.turn % len(_FORGED_FC)]
                self.turn += 1
                self._send(to_master_id(can_id - M2S_BASE), fc + b"\xcc" * 5)
                self.next_at = self.vehicle.clock.now + self.gap
            return
        if self.kind in ("rekey_replay", "join_replay"):
            self._record(can_id, data)

    def _record(self, can_id, data):
        if can_id == ACTIVATE_ID:
            self._keep(can_id, [data])
            return
        node = can_id - S2M_BASE if can_id >= S2M_BASE else can_id - M2S_BASE
        if not (M2S_BASE <= can_id < S2M_BASE + 64) or node not in self.vehicle.nodes.values():
            return
        pci = data[0] >> 4 if data else -1
        if pci == 0:
            self._keep(can_id, [data])
        elif pci == 1:
            self._partial[can_id] = [data]
        elif pci == 2 and can_id in self._partial:
            frames = self._partial[can_id]
            frames.append(data)
            length = ((frames[0][0] & 0x0F) << 8) | frames[0][1]
            if 6 + 7 * (len(frames) - 1) >= length:
                self._keep(can_id, frames)
                del self._partial[can_id]

    def _keep(self, can_id, frames):
        if self.kind == "join_replay":
            first = frames[0]
            body_type = first[2] if first[0] >> 4 == 1 else first[1]
            if can_id not in [to_master_id(n) for n in self.slaves] or body_type != JOIN:
                return
        elif can_id != ACTIVATE_ID and can_id - S2M_BASE not in self.slaves \
                and can_id - M2S_BASE not in self.slaves:
            return
        epoch = self.vehicle.master.epoch or 0
        self.recorded.append((epoch, can_id, frames))
        if len(self.recorded) > _MAX_RECORDED:
            del self.recorded[self.rng.randrange(len(self.recorded) - 1)]  # keep the newest

    def _tick(self):
        clock = self.vehicle.clock
        if clock.now >= self.stop:
            return
        if self.kind == "isotp_hog":
            node = self.slaves[self.turn % len(self.slaves)]
            self.turn += 1
            # A First Frame announcing a JOIN-sized message, random body.
            self._send(to_master_id(node), b"\x10\x19" + bytes(self.rng.randrange(256) for _ in range(6)))
        else:
            epoch = self.vehicle.master.epoch or 0
            old = [r for r in self.recorded if self.kind == "join_replay" or r[0] < epoch]
            if old:
                _, can_id, frames = old[self.rng.randrange(len(old))]
                for data in frames:
                    self._send(can_id, data)
        clock.call_later(self.gap, self._tick)

    def _send(self, can_id, data):
        self.node.send(can_id, data)
        self.injected += 1


def _get(data, start, bits):
    value = int.from_bytes(data, "big")
    return (value >> (8 * len(data) - start - bits)) & ((1 << bits) - 1)


def _put(data, start, bits, field):
    shift = 8 * len(data) - start - bits
    mask = ((1 << bits) - 1) << shift
    value = (int.from_bytes(data, "big") & ~mask) | ((field << shift) & mask)
    data[:] = value.to_bytes(len(data), "big")
