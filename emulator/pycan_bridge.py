# The python-can boundary of the emulated bus: Frame <-> can.Message, and a
# bridge that joins python-can's own `virtual` interface to the emulated bus,
# so tools and tests holding `can.Bus(interface="virtual", channel=...)` see the
# emulated traffic and can inject frames into it.
#
#   bridge = VirtualBridge(bus, channel="vehicle")      # a node on the bus
#   tool = can.Bus(interface="virtual", channel="vehicle")
#   tool.send(can.Message(arbitration_id=0x123, data=b"...", is_extended_id=False))
#   clock.run_until(...)   # the bridge polls the channel every poll_ns of virtual time
#   tool.recv(0)           # every emulated frame, timestamp = virtual seconds
#
# Frames a tool injects are queued from the bridge's node, so they take part
# in arbitration and cost wire time like any ECU's frames.
import can

from emulator.bus import Frame
from emulator.clock import MS


def frame_to_message(frame, is_rx=True, channel=None):
    """A python-can Message for a Frame (timestamp in virtual seconds)."""
    ts = frame.timestamp / 1e9 if frame.timestamp is not None else 0.0
    return can.Message(
        timestamp=ts, arbitration_id=frame.can_id, is_extended_id=frame.ext,
        data=bytes(frame.data), is_fd=frame.fd, bitrate_switch=frame.brs,
        is_rx=is_rx, channel=channel, check=True,
    )


def message_to_frame(msg, sender=None):
    """A Frame for a python-can Message (data frames only)."""
    if msg.is_error_frame or msg.is_remote_frame:
        raise ValueError("only data frames can go onto the emulated bus")
    return Frame(msg.arbitration_id, bytes(msg.data), msg.is_extended_id, msg.is_fd,
                 bool(msg.is_fd and msg.bitrate_switch), sender)


class VirtualBridge:
    """Mirror the emulated bus onto a python-can virtual channel and back."""

    def __init__(self, bus, channel="qkd-secoc", poll_ns=MS, max_per_poll=256, name=None):
        self.bus = bus
        self.channel = channel
        self.poll_ns = poll_ns
        self.max_per_poll = max_per_poll
        # preserve_timestamps: tools see virtual time, not the wall clock
        self.vbus = can.Bus(interface="virtual", channel=channel, receive_own_messages=False,
                            preserve_timestamps=True)
        self.node = bus.attach(name or ("bridge:%s" % channel), self._on_frame)
        self.injected = 0
        self.rejected = 0
        self._timer = bus.clock.call_later(0, self._poll)

    def _on_frame(self, frame, is_rx):
        if is_rx:  # our own injected frames are already on the virtual channel
            self.vbus.send(frame_to_message(frame, True, self.channel))

    def poll(self):
        """Queue what tools sent on the virtual channel (at most max_per_poll)."""
        for _ in range(self.max_per_poll):
            msg = self.vbus.recv(0)
            if msg is None:
                return
            try:
                frame = message_to_frame(msg, self.node)
                if self.bus.queue(frame) is not None:
                    self.injected += 1
            except ValueError:
                self.rejected += 1

    def _poll(self):
        self.poll()
        self._timer = self.bus.clock.call_later(self.poll_ns, self._poll)

    def close(self):
        self.bus.clock.cancel(self._timer)
        self.bus.detach(self.node)
        self.vbus.shutdown()
