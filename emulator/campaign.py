# Campaigns on Dask: every (scenario, seed, parameter combination) is one
# task (emulator.campaign_run.run_task) on a local cluster of worker
# processes or on an existing Dask scheduler. Results come back as they
# finish; a worker that dies, a run over its time limit or a cluster that
# stops answering gives failed rows with a reason, never a hung campaign;
# Ctrl-C cancels what is left and keeps what finished.
import contextlib
import logging
import os
import time
import uuid

from emulator import campaign_run, rules

# How long without a single finished run before the campaign gives up on
# the runs still out: the time limit plus this (starting workers, queueing).
_STALL_MARGIN_S = 60


def default_workers():
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@contextlib.contextmanager
def client(workers=None, scheduler=None, connect_timeout_s=30):
    """A Dask client: of an existing scheduler (tcp://HOST:PORT), or of a
    local cluster of `workers` single-threaded worker processes on
    127.0.0.1 without dashboards, closed on exit."""
    import dask
    from distributed import Client, LocalCluster

    # A worker holds only the run it is running (saturation 1.0: no runs
    # queued on it), so when it dies that run, and only that run, fails
    # (KilledWorker) instead of being retried on the next worker to kill.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0,
                          "distributed.scheduler.worker-saturation": 1.0}):
        if scheduler:
            c = Client(scheduler, timeout=connect_timeout_s)
            try:
                c.wait_for_workers(1, timeout=connect_timeout_s)
                yield c
            finally:
                c.close()
            return
        # No dashboard; the scheduler's own HTTP endpoints (health, metrics)
        # on a free port of 127.0.0.1, not on 8787 where another may be.
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                               processes=True, host="127.0.0.1", dashboard_address="127.0.0.1:0",
                               scheduler_kwargs={"dashboard": False}, silence_logs=logging.CRITICAL)
        try:
            c = Client(cluster)
            try:
                yield c
            finally:
                c.close()
        finally:
            cluster.close()


class Outcome:
    """Rows in task order (None where a run never finished), and whether
    Ctrl-C ended the campaign early."""

    def __init__(self, rows, interrupted, wall_s):
        self.rows = rows
        self.interrupted = interrupted
        self.wall_s = wall_s

    def finished(self):
        return [r for r in self.rows if r is not None]


def run(dask_client, tasks, time_limit_s=300.0, on_row=None, task_fn=campaign_run.run_task):
    """Runs every task; on_row(row) after each (for a progress bar)."""
    from distributed import KilledWorker, as_completed

    t0 = time.monotonic()
    run_id = uuid.uuid4().hex[:12]  # keys of this call only, never a result of an earlier one
    futures = dask_client.map(task_fn, tasks, time_limit_s=time_limit_s, pure=False,
                              key=["run-%s-%d" % (run_id, i) for i in range(len(tasks))])
    index = dict((f.key, i) for i, f in enumerate(futures))
    rows = [None] * len(tasks)
    pending = as_completed(futures)
    stall_s = time_limit_s + _STALL_MARGIN_S
    last = time.monotonic()
    interrupted = False
    try:
        while not pending.is_empty():
            batch = pending.next_batch(block=False)
            if not batch:
                if time.monotonic() - last > stall_s:
                    _give_up(futures, rows, tasks, "no result within %.0f s (worker hung or lost)" % stall_s, on_row)
                    break
                time.sleep(0.05)
                continue
            last = time.monotonic()
            for f in batch:
                i = index[f.key]
                try:
                    rows[i] = f.result()
                except KilledWorker:
                    rows[i] = campaign_run.failed_row(tasks[i], "worker died while running it")
                except Exception as e:
                    rows[i] = campaign_run.failed_row(tasks[i], rules.exception_failure(e))
                f.release()
                if on_row is not None:
                    on_row(rows[i])
    except KeyboardInterrupt:
        interrupted = True
        dask_client.cancel([f for f in futures if not f.done()])
    return Outcome(rows, interrupted, time.monotonic() - t0)


def _give_up(futures, rows, tasks, reason, on_row):
    for i, f in enumerate(futures):
        if rows[i] is None:
            f.cancel()
            rows[i] = campaign_run.failed_row(tasks[i], reason)
            if on_row is not None:
                on_row(rows[i])
