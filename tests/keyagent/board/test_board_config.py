# Every boards/<BOARD>/board.json parses with the runtime's own json, has
# the fields the agent reads, and its bit timing really gives 500 kbit/s
# (and 2 Mbit/s in the FD data phase) at a sample point near 87.5%.
import os

from fwtest import BOARDS as _BOARDS, board as load, raises
from keyagent.board import config as board_config

EXPECTED = {
    # board: (controller, fd, mpy -march)
    "NUCLEO_F446RE": ("bxCAN", False, "armv7emsp"),
    "STM32F4DISC": ("bxCAN", False, "armv7emsp"),
    "PYBV11": ("bxCAN", False, "armv7emsp"),
    "NUCLEO_G474RE": ("FDCAN", True, "armv7emsp"),
    "NUCLEO_H743ZI": ("FDCAN", True, "armv7emdp"),
}


def board_names():
    names = []
    for name in os.listdir(_BOARDS):
        try:
            open(_BOARDS + "/" + name + "/board.json").close()
        except OSError:
            continue  # renode/ and other non-board folders
        names.append(name)
    return sorted(names)


def test_every_expected_board_has_a_config():
    assert board_names() == sorted(EXPECTED)


def test_configs_pass_check():
    for name in board_names():
        cfg = board_config.check(load(name))
        ctrl, fd, march = EXPECTED[name]
        assert cfg["board"] == name and cfg["micropython_board"] == name
        assert cfg["can"]["controller"] == ctrl and cfg["can"]["fd"] == fd
        assert cfg["mpy_march"] == march


def test_timing_recomputed_from_the_kernel_clock():
    # Recomputed here from first principles, not through board_config.
    for name in board_names():
        can = load(name)["can"]
        clock = can["kernel_clock_hz"]
        segs = [(can["nominal"], 500000, 850, 900)]
        if can["fd"]:
            segs.append((can["data"], 2000000, 700, 800))
        for seg, rate, sp_lo, sp_hi in segs:
            tq = 1 + seg["bs1"] + seg["bs2"]
            assert clock % (seg["prescaler"] * tq) == 0, name
            assert clock // (seg["prescaler"] * tq) == rate, name
            sp = (1 + seg["bs1"]) * 1000 // tq
            assert sp_lo <= sp <= sp_hi, (name, sp)
            assert abs(seg["sample_point_pct"] * 10 - sp) <= 1, name


def test_module_uart_is_not_the_repl():
    for name in board_names():
        cfg = load(name)
        assert cfg["module_uart"]["id"] != cfg["repl"]["uart"], name
        pins = (cfg["can"]["tx_pin"], cfg["can"]["rx_pin"], cfg["repl"].get("tx_pin"), cfg["repl"].get("rx_pin"))
        assert cfg["module_uart"]["tx_pin"] not in pins and cfg["module_uart"]["rx_pin"] not in pins, name


def test_check_rejects_wrong_timing_and_missing_fields():
    cfg = load("NUCLEO_F446RE")
    cfg["can"]["nominal"]["bs1"] = 12  # 15 tq: 466 kbit/s
    assert raises(ValueError, board_config.check, cfg)
    cfg = load("NUCLEO_F446RE")
    cfg["can"]["nominal"]["bs1"] = 17  # beyond bxCAN's 16
    assert raises(ValueError, board_config.check, cfg)
    cfg = load("NUCLEO_F446RE")
    del cfg["module_uart"]["baudrate"]
    assert raises(ValueError, board_config.check, cfg)
    cfg = load("NUCLEO_F446RE")
    cfg["can"]["fd"] = True  # bxCAN cannot do FD
    assert raises(ValueError, board_config.check, cfg)
    cfg = load("NUCLEO_G474RE")
    cfg["can"]["data"]["sample_point_pct"] = 87.5
    assert raises(ValueError, board_config.check, cfg)
