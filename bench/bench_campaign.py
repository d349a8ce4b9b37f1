# Campaigns on Dask, in one bench run:
#   campaign_runs_per_s: runs of scenarios/faults.toml (30 s of vehicle time
#     each) per wall second on a local cluster of one worker per core;
#   campaign_scaling: that rate over the rate of one worker (goal at least
#     0.8 x cores; on a machine shared with other work it shows the share
#     this bench got);
#   campaign_overhead: the one-worker campaign's wall time over the sum of
#     its runs' own times (goal at most 1.1). The clusters start before the
#     clock starts.
import time

from emulator import campaign, campaign_sweep

SCENARIO = "scenarios/faults.toml"


def measure(workers, runs):
    tasks = campaign_sweep.tasks([SCENARIO], range(1, runs + 1), [])
    with campaign.client(workers) as c:
        campaign.run(c, tasks[:workers])  # every worker imported the emulator
        t0 = time.perf_counter()
        outcome = campaign.run(c, tasks)
        wall = time.perf_counter() - t0
    rows = outcome.finished()
    assert len(rows) == runs and not any(r["failures"].startswith(("exception", "worker")) for r in rows)
    return runs / wall, wall / sum(r["run_s"] for r in rows)


def main():
    cores = campaign.default_workers()
    one_rate, overhead = measure(1, 6)
    all_rate, _ = measure(cores, 6 * cores)
    print("BENCH campaign_runs_per_s %.2f runs/s" % all_rate)
    print("BENCH campaign_scaling %.2f x" % (all_rate / one_rate))  # over `cores` workers
    print("BENCH campaign_overhead %.3f ratio" % overhead)


if __name__ == "__main__":
    main()
