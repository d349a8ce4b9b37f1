# `qkd-secoc monitor` attached to an emulator's bus server before the clock
# starts, then the vehicle in real time: what the live-monitor tests share.
import json
import threading
import time

from emulator.bus_server import _RAW
from host_tools.cli import main


def monitor_live(server, argv, out_json, duration_s):
    """Runs `qkd-secoc monitor` with argv (and --json out_json) on server while
    the vehicle runs duration_s of real time; returns the JSON it wrote."""
    result = {}
    argv = ["monitor"] + argv + ["--json", out_json]
    monitor = threading.Thread(target=lambda: result.setdefault("rc", main(argv)), daemon=True)
    monitor.start()
    try:
        for _ in range(400):  # bounded: until the monitor is in raw mode
            server.poll(0.01)
            if any(c.state == _RAW for c in server.clients):
                break
        assert any(c.state == _RAW for c in server.clients)
        time.sleep(server.settle_s)
        server.run_realtime(duration_s=duration_s)
        monitor.join(20)
    finally:
        server.close()
    assert not monitor.is_alive() and result["rc"] == 0
    with open(out_json) as f:
        return json.load(f)
