# Ready-made fault hooks for emulator.bus.CanBus (see its header for the
# semantics). Each takes its own random.Random so a scenario seed fixes them.
#
#   bus.loss_hooks.append(RandomLoss(random.Random(seed), 0.01))
#   bus.bit_error_hooks.append(RandomBitErrors(random.Random(seed + 1), 0.001))
from emulator.bus import ALL


class RandomLoss:
    """Loss hook: each frame (optionally only some IDs) is lost with
    probability `rate` for all receivers at once, or, with `receivers` given,
    independently for each of those receivers."""

    def __init__(self, rng, rate, receivers=None, can_ids=None):
        self.rng = rng
        self.rate = rate
        self.receivers = receivers
        self.can_ids = can_ids

    def __call__(self, frame):
        if self.can_ids is not None and frame.can_id not in self.can_ids:
            return None
        rnd = self.rng.random
        if self.receivers is None:
            return ALL if rnd() < self.rate else None
        lost = {n for n in self.receivers if rnd() < self.rate}
        return lost or None


class RandomBitErrors:
    """Bit-error hook: each transmission attempt is corrupted with probability `rate`."""

    def __init__(self, rng, rate, can_ids=None):
        self.rng = rng
        self.rate = rate
        self.can_ids = can_ids

    def __call__(self, frame):
        if self.can_ids is not None and frame.can_id not in self.can_ids:
            return False
        return self.rng.random() < self.rate


class Deafen:
    """Loss hook: `node` receives nothing from `start` to `end` (ns of the
    bus clock): it misses whatever happens, then hears the bus again."""

    def __init__(self, clock, node, start, end):
        self.clock = clock
        self.node = node
        self.start = start
        self.end = end

    def __call__(self, frame):
        if self.start <= self.clock.now < self.end and frame.sender is not self.node:
            return {self.node}
        return None
