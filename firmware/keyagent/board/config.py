# The board configuration (boards/<BOARD>/board.json, parsed with json.load):
# which CAN controller, bus and bit timing, which UART reaches the optical
# module. check() says what is wrong with one (a local mistake: ValueError);
# the hal adapters turn it into constructor arguments.
#
# Bit timing as ST's reference manuals define it: one bit is
# 1 (sync) + bs1 + bs2 time quanta of prescaler / kernel_clock_hz each, and the
# sample point sits after bs1.

FORMAT = 1
CONTROLLERS = ("bxCAN", "FDCAN")
CAN_APIS = ("pyb.CAN", "machine.CAN")
MARCHES = ("armv6m", "armv7m", "armv7emsp", "armv7emdp")

# (prescaler, sjw, bs1, bs2) upper limits of pyb.CAN.init for each controller:
# bxCAN; FDCAN nominal; FDCAN data phase.
_LIMITS = {
    "bxCAN": (1024, 4, 16, 8),
    "FDCAN": (512, 128, 256, 128),
    "FDCAN data": (32, 16, 32, 16),
}


def bitrate(clock_hz, seg):
    return clock_hz // (seg["prescaler"] * (1 + seg["bs1"] + seg["bs2"]))


def sample_point_permille(seg):
    return (1 + seg["bs1"]) * 1000 // (1 + seg["bs1"] + seg["bs2"])


def _need(d, key, where):
    if not isinstance(d, dict) or key not in d:
        raise ValueError("board config: %s.%s missing" % (where, key))
    return d[key]


def _check_segment(clock, seg, limits, where):
    for i, key in enumerate(("prescaler", "sjw", "bs1", "bs2")):
        v = _need(seg, key, where)
        if not isinstance(v, int) or v < 1 or v > limits[i]:
            raise ValueError("board config: %s.%s=%r out of range 1..%d" % (where, key, v, limits[i]))
    if seg["sjw"] > seg["bs2"]:
        raise ValueError("board config: %s.sjw must not exceed bs2" % where)
    want = _need(seg, "bitrate", where)
    got = bitrate(clock, seg)
    if got != want:
        raise ValueError("board config: %s gives %d bit/s, not %d" % (where, got, want))
    pct = _need(seg, "sample_point_pct", where)
    if abs(pct * 10 - sample_point_permille(seg)) > 1:
        raise ValueError("board config: %s sample point is %d permille, not %s%%" % (where, sample_point_permille(seg), pct))


def check(cfg):
    # Returns cfg when it is complete and its timing adds up.
    if _need(cfg, "format", "") != FORMAT:
        raise ValueError("board config: format %r, this agent reads %d" % (cfg.get("format"), FORMAT))
    for key in ("board", "micropython_board", "mcu"):
        _need(cfg, key, "")
    if _need(cfg, "mpy_march", "") not in MARCHES:
        raise ValueError("board config: mpy_march %r unknown" % cfg["mpy_march"])
    can = _need(cfg, "can", "")
    ctrl = _need(can, "controller", "can")
    if ctrl not in CONTROLLERS:
        raise ValueError("board config: can.controller %r unknown" % ctrl)
    for key in ("bus", "tx_pin", "rx_pin"):
        _need(can, key, "can")
    clock = _need(can, "kernel_clock_hz", "can")
    _check_segment(clock, _need(can, "nominal", "can"), _LIMITS[ctrl], "can.nominal")
    fd = _need(can, "fd", "can")
    if fd:
        if ctrl != "FDCAN":
            raise ValueError("board config: CAN FD needs an FDCAN controller")
        _check_segment(clock, _need(can, "data", "can"), _LIMITS["FDCAN data"], "can.data")
    uart = _need(cfg, "module_uart", "")
    for key in ("id", "tx_pin", "rx_pin", "baudrate"):
        _need(uart, key, "module_uart")
    fw = _need(cfg, "firmware", "")
    if _need(fw, "can_api", "firmware") not in CAN_APIS:
        raise ValueError("board config: firmware.can_api %r unknown" % fw["can_api"])
    return cfg
