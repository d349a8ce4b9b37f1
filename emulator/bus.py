# A discrete-event CAN / CAN FD bus in virtual time.
#
# Stations (the bus side of an ECU or tool) queue frames with Station.send(). When the bus is idle, the pending frame
# with the lowest arbitration key wins (standard before extended on an equal
# base ID, as the recessive SRR bit loses to a dominant RTR bit); each node's
# controller is modelled as transmitting its pending frames in ID order (enough
# mailboxes, priority by ID). Two pending frames with the same key are sent in
# queue order (on a real bus that is a configuration error).
# A frame occupies the wire for its bit time (emulator.timing, intermission
# included), then every attached node sees it: the sender with is_rx=False
# (its own echo, like python-can's receive_own_messages), the others with
# is_rx=True. Receivers that queue a reply from inside receive() contend in
# the very next arbitration.
#
# Faults (hooks, consulted only when present so the clean path stays lean;
# random ones in emulator.bus_faults):
# - loss hooks, hook(frame) -> None | ALL | set of nodes: the frame is silently
#   not delivered to those receivers (the sender still gets its echo and
#   counts it as sent). This models "frame lost on the wire" for scenario
#   statistics; physically it stands for a receiver that missed the frame.
# - bit-error hooks, hook(frame) -> bool: this transmission attempt is
#   corrupted. CAN error handling as modelled here: the error is detected at
#   a random bit position (drawn from the bus rng), an error frame follows
#   (6-bit error flag + 8-bit delimiter + 3-bit intermission), no node receives
#   the frame, and the transmitter retries it automatically in the next
#   arbitration. Fault confinement: transmitter TEC += 8, receivers REC += 1;
#   a successful frame gives TEC -= 1 and REC -= 1. TEC >= 128 or REC >= 128
#   is error passive (only reported), TEC > 255 is bus-off: the node's pending
#   frames are dropped and send() refuses until Station.recover().
#
# Frames are small slotted objects (no python-can Message on this path);
# emulator.pycan_bridge converts at the boundary when a bridge is attached.
import heapq

from emulator.timing import DATA_BITRATE, NOMINAL_BITRATE, frame_duration_ns, len_to_dlc

ALL = "all"  # loss hook result: lost for every receiver

ERROR_ACTIVE = "error-active"
ERROR_PASSIVE = "error-passive"
BUS_OFF = "bus-off"

_ERROR_FRAME_BITS = 6 + 8 + 3


def arbitration_key(can_id, ext):
    """Smaller wins: 11-bit base ID, then SRR/IDE (extended loses), then the 18-bit extension."""
    if ext:
        return ((can_id >> 18) << 19) | (1 << 18) | (can_id & 0x3FFFF)
    return can_id << 19


class Frame:
    """One CAN / CAN FD frame on the emulated bus. timestamp (ns) is set when
    the frame has been on the wire; sender is the Station that queued it."""

    __slots__ = ("can_id", "data", "ext", "fd", "brs", "sender", "timestamp")

    def __init__(self, can_id, data, ext=False, fd=False, brs=False, sender=None):
        self.can_id = can_id
        self.data = data
        self.ext = ext
        self.fd = fd
        self.brs = brs
        self.sender = sender
        self.timestamp = None

    def __repr__(self):
        return "Frame(%s%s %s%s)" % (
            ("%08X" if self.ext else "%03X") % self.can_id,
            " FD" if self.fd else "", bytes(self.data).hex(), " BRS" if self.brs else "")


class Station:
    """A station on the bus. receive(frame, is_rx) is called for every frame."""

    __slots__ = ("bus", "name", "receive", "accept", "tec", "rec", "sent", "dropped")

    def __init__(self, bus, name, receive):
        self.bus = bus
        self.name = name
        self.receive = receive
        # The CAN controller's acceptance filter: a set of IDs, or None for
        # every frame. The sender always sees its own echo.
        self.accept = None
        self.tec = 0
        self.rec = 0
        self.sent = 0
        self.dropped = 0

    @property
    def state(self):
        if self.tec > 255:
            return BUS_OFF
        if self.tec >= 128 or self.rec >= 128:
            return ERROR_PASSIVE
        return ERROR_ACTIVE

    def send(self, can_id, data, ext=False, fd=False, brs=None):
        """Queue a frame for transmission. Returns the Frame, or None if the
        node is bus-off (counted in dropped). brs defaults to fd. data is
        copied (bytes() of a bytes object is free), so a sender may reuse its buffer."""
        return self.bus.queue(Frame(can_id, bytes(data), ext, fd, fd if brs is None else brs, self))

    def recover(self):
        """Leave bus-off (models the 128 x 11 recessive bits recovery)."""
        self.tec = 0
        self.rec = 0

    def __repr__(self):
        return "Station(%r)" % (self.name,)


class CanBus:
    """The shared medium. Deterministic for a given clock, rng and input."""

    def __init__(self, clock, rng=None, nominal_bitrate=NOMINAL_BITRATE,
                 data_bitrate=DATA_BITRATE, stuffing="worst"):
        if stuffing not in ("worst", "none", "exact"):
            raise ValueError("stuffing must be worst, none or exact")
        self.clock = clock
        self.rng = rng  # random.Random; needed only by bit-error hooks
        self.nominal_bitrate = nominal_bitrate
        self.data_bitrate = data_bitrate
        self.stuffing = stuffing
        self.nodes = []
        self._routes = {}  # can_id -> nodes whose filter accepts it (cached)
        self.monitors = []  # monitor(frame) for every frame on the wire (trace loggers)
        self.loss_hooks = []
        self.bit_error_hooks = []
        self._pending = []  # heap of (arbitration key, seq, frame)
        self._seq = 0
        self._busy = False
        self._arbitration_due = False
        self._durations = {}
        self._tx_start = 0
        # statistics
        self.frames = 0
        self.busy_ns = 0
        self.error_frames = 0
        self.lost_deliveries = 0

    # -- nodes -----------------------------------------------------------
    def attach(self, name, receive=None):
        """Add a node; receive(frame, is_rx) is called for every frame on the wire."""
        node = Station(self, name, receive or _ignore)
        self.nodes.append(node)
        self._routes.clear()
        return node

    def detach(self, node):
        self.nodes.remove(node)
        self._routes.clear()
        self._drop_pending(node)

    def set_filter(self, node, can_ids):
        """Set a node's acceptance filter (a set of IDs, or None for all)."""
        node.accept = None if can_ids is None else set(can_ids)
        self._routes.clear()

    # -- transmission ----------------------------------------------------
    def duration_ns(self, frame):
        """Wire time of a frame under this bus's bitrates and stuffing mode."""
        n = len(frame.data)
        if self.stuffing == "exact":
            return frame_duration_ns(n, frame.ext, frame.fd, frame.brs, "exact", self.nominal_bitrate,
                                     self.data_bitrate, frame.can_id, frame.data)
        key = (n, frame.ext, frame.fd, frame.brs)
        d = self._durations.get(key)
        if d is None:
            d = frame_duration_ns(n, frame.ext, frame.fd, frame.brs, self.stuffing,
                                  self.nominal_bitrate, self.data_bitrate)
            self._durations[key] = d
        return d

    def queue(self, frame):
        node = frame.sender
        if node is not None and node.tec > 255:
            node.dropped += 1
            return None
        len_to_dlc(len(frame.data), frame.fd)  # ValueError for an impossible length
        self._seq += 1
        heapq.heappush(self._pending, (arbitration_key(frame.can_id, frame.ext), self._seq, frame))
        if not self._busy and not self._arbitration_due:
            self._arbitration_due = True
            self.clock.call_at(self.clock.now, self._arbitrate)
        return frame

    def pending(self, node=None):
        """Frames waiting for the wire (only node's, when given)."""
        if node is None:
            return len(self._pending)
        return sum(1 for e in self._pending if e[2].sender is node)

    @property
    def idle(self):
        return not self._busy

    def busy_time(self):
        """Virtual ns the wire has been busy up to now (frames, error frames,
        and the elapsed part of the one in progress)."""
        if self._busy:
            return self.busy_ns + self.clock.now - self._tx_start
        return self.busy_ns

    def _arbitrate(self):
        self._arbitration_due = False
        if self._busy or not self._pending:
            return
        frame = heapq.heappop(self._pending)[2]
        duration = self.duration_ns(frame)
        if self.bit_error_hooks:
            for hook in self.bit_error_hooks:
                if hook(frame):
                    self._start_error(frame, duration)
                    return
        self._busy = True
        self._tx_start = self.clock.now
        self.clock.call_at(self.clock.now + duration, self._complete, frame)

    def _complete(self, frame):
        self._busy = False
        self.busy_ns += self.clock.now - self._tx_start
        self.frames += 1
        frame.timestamp = self.clock.now
        sender = frame.sender
        lost = None
        if self.loss_hooks:
            for hook in self.loss_hooks:
                lost = hook(frame)
                if lost:
                    break
        if sender is not None:
            sender.sent += 1
            if sender.tec:
                sender.tec -= 1
        for monitor in self.monitors:
            monitor(frame)  # loggers see every frame on the wire, lost or not
        # replies queued from receive() join the arbitration below, not a new event
        self._arbitration_due = True
        can_id = frame.can_id
        if not lost:
            route = self._routes.get(can_id)
            if route is None:
                route = self._routes[can_id] = tuple(
                    n for n in self.nodes if n.accept is None or can_id in n.accept)
            if sender is not None and sender.accept is not None and can_id not in sender.accept:
                sender.receive(frame, False)
            for node in route:
                node.receive(frame, node is not sender)
        else:
            for node in self.nodes:
                if node is sender:
                    node.receive(frame, False)
                elif node.accept is not None and can_id not in node.accept:
                    continue
                elif lost is ALL or node in lost:
                    self.lost_deliveries += 1
                else:
                    node.receive(frame, True)
        if self.error_frames:
            for node in self.nodes:
                if node.rec and node is not sender:
                    node.rec -= 1
        self._arbitrate()

    # -- errors ----------------------------------------------------------
    def _start_error(self, frame, duration):
        bit_ns = 1_000_000_000 // self.nominal_bitrate
        total_bits = max(1, duration // bit_ns)
        at_bit = self.rng.randrange(1, total_bits + 1) if self.rng is not None else total_bits
        busy = (at_bit + _ERROR_FRAME_BITS) * bit_ns
        self._busy = True
        self._tx_start = self.clock.now
        self.clock.call_at(self.clock.now + busy, self._error_done, frame)

    def _error_done(self, frame):
        self._busy = False
        self.busy_ns += self.clock.now - self._tx_start
        self.error_frames += 1
        sender = frame.sender
        for node in self.nodes:
            if node is not sender:
                node.rec += 1
        if sender is not None:
            sender.tec += 8
            if sender.tec > 255:
                sender.dropped += 1 + self._drop_pending(sender)
                self._arbitrate()
                return
        # automatic retransmission: the frame contends again
        self._seq += 1
        heapq.heappush(self._pending, (arbitration_key(frame.can_id, frame.ext), self._seq, frame))
        self._arbitrate()

    def _drop_pending(self, node):
        keep = [e for e in self._pending if e[2].sender is not node]
        dropped = len(self._pending) - len(keep)
        heapq.heapify(keep)
        self._pending = keep
        return dropped


def _ignore(frame, is_rx):
    pass


class LoadMeter:
    """Bus load over windows: call sample() whenever; it returns the fraction
    of virtual time since the previous sample that the wire was busy (frames
    and error frames, including the elapsed part of one in progress)."""

    def __init__(self, bus):
        self.bus = bus
        self._t = bus.clock.now
        self._busy = bus.busy_time()

    def sample(self):
        now = self.bus.clock.now
        busy = self.bus.busy_time()
        dt = now - self._t
        load = (busy - self._busy) / dt if dt > 0 else 0.0
        self._t = now
        self._busy = busy
        return load
