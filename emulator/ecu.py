# One ECU of the virtual vehicle: the firmware's KeyAgent, in process, on
# the emulated bus, with its optical module (the firmware's module client
# talking to the emulated module over a virtual-time UART) if it has one,
# and its OTA service (UDS on its diagnostic IDs, A/B slots in a MemoryFs
# that plays its flash). The agent code is the emulator's own: a boot into
# a new slot runs the same code with the slot's version (docs/ota.md).
from keyagent.agent import KeyAgent
from keyagent.ota.service import FACTORY_VERSION, diag_service
from keyagent.ota.slots import SlotStore, ota_keys
from keyagent.unix.memfs import MemoryFs
from keyagent.rekey.ids import ACTIVATE_ID
from keyagent.optical.client import ModuleClient
from keyagent.storage import MemoryStorage

from emulator.clock import MS
from emulator.optical_module import OpticalModuleEnd
from emulator.uart import UartDirection


class EmulatedEcu:
    def __init__(self, vehicle, name, config, module_side=None):
        self.vehicle = vehicle
        self.name = name
        self.config = config
        self.module_side = module_side
        self.clock = vehicle.clock
        self.storage = MemoryStorage()  # the ECU's flash: survives resets
        self.fs = MemoryFs()  # the flash filesystem of its A/B slots
        self.ota_reboots = 0
        self._seeds = vehicle.rng_for("seeds/%s" % name)
        self.bus_node = vehicle.bus.attach(name, self._receive)
        self.resets = 0
        self.events = []  # every agent event of every boot: (ms, kind, detail)
        self._wake_at = None
        self._wake_handle = None
        self.boot()

    def boot(self):
        # Power-on: a fresh agent (RAM lost), the same flash and module.
        module = None
        if self.module_side is not None:
            # A fresh session after every reset starts at a random sequence
            # number, as the link protocol asks.
            module = ModuleClient(first_seq=self.vehicle.rng_for("%s/%d" % (self.name, self.resets)).randrange(256))
            endpoint = OpticalModuleEnd(self.vehicle.pair, self.module_side)
            baud = self.vehicle.uart_baud
            self.to_module = UartDirection(self.clock, baud, lambda d: self.from_module.write(endpoint.receive_data(d)))
            self.from_module = UartDirection(self.clock, baud, self._module_bytes)
        # Seeded JOIN nonces: a scenario and a seed determine the run.
        nonces = self.vehicle.rng_for("%s/%d/nonce" % (self.name, self.resets))
        self.agent = KeyAgent(self.config, self.storage, module, nonces.randbytes)
        self._boot_slot()
        self.wanted = set(self.agent.by_can_id) | set(self.agent.links) | {ACTIVATE_ID}
        if self.diag is not None:
            self.wanted.add(self.diag.rx_id)
        if self.agent.multi is not None:
            self.wanted.add(self.agent.multi.can_id)  # the freshness sync message
        self.vehicle.bus.set_filter(self.bus_node, self.wanted)
        self.epoch = None
        self.first_ok_ns = None  # when this boot first verified a frame
        self.agent.start(self.now_ms())
        self._service()

    def _boot_slot(self):
        # What boot.py does on a board: pick and check the slot, count a
        # trial boot; then the UDS server for the agent that runs.
        store = SlotStore(self.fs, ota_keys(self.config), self.config["node"], "emulator", "py")
        self.slot, manifest = store.boot()
        self.version = manifest["version"] if manifest is not None else FACTORY_VERSION
        self.diag = diag_service(self.config, self.agent, self.fs, self._seeds.randbytes, self._ota_reset,
                                 self.slot, self.version, "emulator", "py")

    def _ota_reset(self):
        # ECUReset (or a probation that ran out): after this event, not inside it.
        self.ota_reboots += 1
        self.clock.call_later(0, self.reset)

    def reset(self):
        self.resets += 1
        if self._wake_handle is not None:
            self.clock.cancel(self._wake_handle)
            self._wake_handle = self._wake_at = None
        self.boot()

    def now_ms(self):
        return self.clock.now // MS

    def send_app(self, pdu, payload):
        n = self.agent.send(pdu, payload, self.now_ms())
        if n > 0:
            self.vehicle.stats.app_sent += 1
        else:
            self.vehicle.stats.app_unsent += 1
        self._service()

    def _receive(self, frame, is_rx):
        if not is_rx:
            return  # our own echo (the bus applies our acceptance filter)
        if self.diag is not None and frame.can_id == self.diag.rx_id:
            self.diag.on_frame(frame.data, self.now_ms())
            self._service()
            return
        attacker = self.vehicle.attacker_nodes.get(frame.sender)
        judged = getattr(attacker, "on_handled", None)  # the rekey attackers' tally
        counted = dict(self.agent.rejected) if judged else None
        reason = self.agent.on_frame(frame.can_id, frame.data, self.now_ms())
        if reason is not None:
            if reason == 0 and self.first_ok_ns is None:
                self.first_ok_ns = self.clock.now
            self.vehicle.stats.verdict(self, frame, reason)
        seen = len(self.events)
        self._service()
        if judged:
            judged(counted, self.agent.rejected, self.events[seen:])

    def _module_bytes(self, data):
        self.agent.on_module_data(data, self.now_ms())
        self._service()

    def _wake(self):
        self._wake_handle = self._wake_at = None
        self.agent.poll(self.now_ms())
        if self.diag is not None:
            self.diag.poll(self.now_ms())
        self._service()

    def _service(self):
        # Send what the agent produced and arrange its next timer.
        agent = self.agent
        for can_id, data, fd in agent.pop_frames():
            self.bus_node.send(can_id, data, fd=fd)
        if self.diag is not None:
            for can_id, data, fd in self.diag.pop_frames():
                self.bus_node.send(can_id, data, fd=fd)
        if agent.module is not None:
            self.to_module.write(agent.module_data())
        if agent.events:  # taken out as a board's console does, so none is dropped
            for t, kind, detail in agent.events:
                if kind == "epoch_announced":
                    self.vehicle.announced[detail] = t  # for the rekey latencies
            self.events.extend(agent.events)
            agent.events = []
        epoch = agent.current.epoch if agent.current is not None else None
        if epoch != self.epoch:
            self.epoch = epoch
            self.vehicle.on_epoch(self, epoch)
        now = self.now_ms()
        t = agent.next_timer(now)
        if self.diag is not None:
            t = min(t, self.diag.next_timer(now))
        t = max(t, now + 1)
        if self._wake_at is None or t < self._wake_at:
            if self._wake_handle is not None:
                self.clock.cancel(self._wake_handle)
            self._wake_at = t
            self._wake_handle = self.clock.call_at(t * MS, self._wake)
