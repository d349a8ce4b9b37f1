# One run of a campaign, as a Dask task runs it on a worker: the scenario in
# virtual time (every ECU in process), judged by emulator.rules, reduced to
# one flat row of figures. Never raises: an exception is a failed run.
import time

from emulator import rules

# The figures of a run, in table order. off_epoch_ms is there only when the
# summary reports it.
FIGURES = ("authentic_rejected", "attacks_accepted", "rekeys_completed", "rekey_latency_max_ms",
           "off_epoch_ms", "key_pool_min")


class RunTimeout(Exception):
    pass


def run(scenario, time_limit_s=None):
    """(summary or None, failures, figures) of one virtual-time run."""
    from emulator.vehicle import Vehicle

    try:
        vehicle = Vehicle(scenario, inline_only=True)
        log = rules.RejectionLog(vehicle)
        deadline = None if time_limit_s is None else time.monotonic() + time_limit_s

        def watch(v):
            if deadline is not None and time.monotonic() > deadline:
                raise RunTimeout("over the time limit of %g s at %.1f s of vehicle time"
                                 % (time_limit_s, v.clock.now / 1e9))

        summary = vehicle.run(watch, step_s=0.1)
    except RunTimeout as e:
        return None, ["time limit: %s" % e], {}
    except Exception as e:  # the rule: an exception anywhere fails the run
        return None, [rules.exception_failure(e)], {}
    return summary, rules.failures(scenario, summary, log.entries), figures(vehicle, summary)


def figures(vehicle, summary):
    off = rules.off_epoch_by_ecu(summary)
    pool = [row[1] for row in vehicle.timeline] or [summary["key_pool"]]
    out = {"authentic_rejected": summary["authentic_rejected"],
           "attacks_accepted": summary["attacks_accepted"],
           "rekeys_completed": summary["rekeys_completed"],
           "rekey_latency_max_ms": summary["rekey_latency_ms"]["max"],
           "key_pool_min": min(pool)}
    if off:
        out["off_epoch_ms"] = max(off.values())
    return out


def run_task(task, time_limit_s=None):
    """The Dask task: a campaign_sweep.Task -> one result row (a dict)."""
    t0 = time.perf_counter()
    _, failed, figs = run(task.scenario, time_limit_s)
    row = {"scenario": task.path, "seed": task.seed}
    row.update(task.params)
    row.update(failed=bool(failed), failures="; ".join(failed), run_s=time.perf_counter() - t0)
    row.update(figs)
    return row


def failed_row(task, reason):
    """The row of a run that returned nothing (worker died, cancelled...)."""
    row = {"scenario": task.path, "seed": task.seed}
    row.update(task.params)
    row.update(failed=True, failures=reason, run_s=None)
    return row
