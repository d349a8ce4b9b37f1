# Opens the board's CAN bus with the API its board config names
# (firmware.can_api: "pyb.CAN" or "machine.CAN"), or the one asked for.
# Both adapters offer send(can_id, data, fd=False, brs=False, extended=False)
# -> bool, recv(timeout_ms) -> [can_id, data] or None (what keyagent.node.Node
# drives), poll(limit) -> int handing frames to on_frame(can_id, data,
# extended) (pass None when only recv() is used), start()/stop() for the rx
# interrupt, and rx/tx counters.


def open_can(cfg, on_frame, api=None, **kw):
    api = api or cfg["firmware"]["can_api"]
    if api == "pyb.CAN":
        from keyagent.hal.can_pyb import open_bus
    elif api == "machine.CAN":
        if cfg["can"]["fd"]:
            # A classic-only node on an FD bus destroys every FD frame.
            raise ValueError("machine.CAN has no CAN FD; this board's bus is FD")
        from keyagent.hal.can_machine import open_bus
    else:
        raise ValueError("unknown CAN API %r" % api)
    return open_bus(cfg, on_frame, **kw)
