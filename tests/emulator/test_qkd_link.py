# The physical link model against Ma, Qi, Zhao and Lo, Phys. Rev. A 72,
# 012326 (2005): the GYS parameter set, its optimal mean photon number, its
# cut-off distance, and its key rate where the paper's small-eta formula holds.
import json
import math
import os
from dataclasses import replace

import pytest

from emulator.qkd_link import ABORT_QBER, LinkParams, cutoff_km, evaluate, h2, optimal_mu, transmittance

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "..", "vectors", "gllp_gys.json")) as f:
    GYS = json.load(f)
TOL = GYS["relative_tolerance"]
P = GYS["parameters"]
GYS_LINK = LinkParams(
    km=0.0, loss_db_per_km=P["loss_db_per_km"], detector_efficiency=P["detector_efficiency"],
    dark_count_prob=P["dark_count_prob"], misalignment_error=P["misalignment_error"],
    ec_efficiency=P["ec_efficiency"], pulse_rate_hz=1.0)


def test_cutoff_distance_matches_the_paper():
    km = cutoff_km(GYS_LINK)
    assert km == pytest.approx(GYS["paper_results"]["cutoff_km"], rel=TOL)
    assert evaluate(replace(GYS_LINK, km=km - 1)).key_rate_per_pulse > 0
    assert evaluate(replace(GYS_LINK, km=km + 1)).key_rate_per_pulse < 0


@pytest.mark.parametrize("km", [10.0, 50.0, 100.0])
def test_optimal_mu_matches_the_paper(km):
    assert optimal_mu(replace(GYS_LINK, km=km)) == pytest.approx(GYS["paper_results"]["optimal_mu"], rel=TOL)


def small_eta_rate(eta, e, f):
    # Maximise the paper's small-eta rate over mu by bisection on its optimum condition.
    lo, hi = 1e-3, 1.0
    for _ in range(60):
        mu = (lo + hi) / 2
        if (1 - mu) * math.exp(-mu) * (1 - h2(e)) > f * h2(e):
            lo = mu
        else:
            hi = mu
    return 0.5 * eta * mu * (math.exp(-mu) * (1 - h2(e)) - f * h2(e))


@pytest.mark.parametrize("km", GYS["small_eta_regime"]["distances_km"])
def test_key_rate_matches_the_small_eta_formula(km):
    link = replace(GYS_LINK, km=km)
    expected = small_eta_rate(transmittance(link), P["misalignment_error"], P["ec_efficiency"])
    assert evaluate(link).key_rate_per_pulse == pytest.approx(expected, rel=TOL)


def test_dark_counts_bend_the_curve_down_near_the_cutoff():
    # Far out the small-eta formula overestimates: the dark counts' QBER costs key.
    link = replace(GYS_LINK, km=120.0)
    approx = small_eta_rate(transmittance(link), P["misalignment_error"], P["ec_efficiency"])
    report = evaluate(link)
    assert report.key_rate_per_pulse < 0.9 * approx
    assert report.qber > P["misalignment_error"] + 0.005


def test_rate_falls_with_distance_and_scales_with_pulse_rate():
    rates = [evaluate(replace(GYS_LINK, km=km)).key_rate_per_pulse for km in range(0, 141, 20)]
    assert all(a > b > 0 for a, b in zip(rates, rates[1:]))
    fast = evaluate(replace(GYS_LINK, km=30.0, pulse_rate_hz=2e6))
    assert fast.secret_key_rate_bps == pytest.approx(2e6 * fast.key_rate_per_pulse)


def test_intercept_resend_adds_a_quarter_of_the_fraction_to_the_qber():
    base = evaluate(LinkParams())
    for fraction in (0.1, 0.2, 0.3):
        report = evaluate(replace(LinkParams(), eavesdrop_fraction=fraction))
        assert report.qber == pytest.approx(base.qber + fraction / 4)
        assert report.single_photon_error == pytest.approx(base.single_photon_error + fraction / 4)
        assert report.mu == base.mu  # Alice does not know about Eve
        assert report.alarm == (report.qber > ABORT_QBER)
    alarmed = evaluate(replace(LinkParams(), eavesdrop_fraction=0.4))
    assert alarmed.alarm and alarmed.secret_key_rate_bps == 0


def test_fixed_mu_is_used_as_given():
    assert evaluate(replace(LinkParams(), mu=0.1)).mu == 0.1


def test_h2():
    assert h2(0.0) == 0.0 and h2(0.5) == 1.0 and h2(0.7) == 1.0
    assert h2(0.11) == pytest.approx(0.4999, abs=1e-3)


@pytest.mark.parametrize("field,value", [
    ("km", -1.0), ("km", float("nan")), ("loss_db_per_km", -0.1), ("detector_efficiency", 1.5),
    ("dark_count_prob", -1e-6), ("ec_efficiency", 0.9), ("pulse_rate_hz", 0.0), ("mu", 0.0),
    ("eavesdrop_fraction", 1.01),
])
def test_out_of_range_parameters_are_rejected(field, value):
    with pytest.raises(ValueError):
        evaluate(replace(LinkParams(), **{field: value}))
