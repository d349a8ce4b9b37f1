# The physical model of the simulated quantum channel between the two optical
# modules: decoy-state BB84 with weak coherent pulses, key rate from the
# asymptotic GLLP bound with the infinite-decoy estimates of Lo, Ma and Chen
# (PRL 94, 230504, 2005) in the notation of Ma, Qi, Zhao and Lo,
# "Practical decoy state for quantum key distribution", Phys. Rev. A 72,
# 012326 (2005), section II:
#
#   eta    = eta_Bob * 10^(-alpha * L / 10)           channel + Bob transmittance
#   Q_mu   = Y0 + 1 - exp(-eta * mu)                   gain of the signal state
#   E_mu   = (e0 * Y0 + e_det * (1 - exp(-eta * mu))) / Q_mu      its QBER, e0 = 1/2
#   Y1     = Y0 + eta - Y0 * eta                       single-photon yield
#   Q1     = Y1 * mu * exp(-mu)                        single-photon gain
#   e1     = (e0 * Y0 + e_det * eta) / Y1              single-photon error rate
#   R      = q * (-Q_mu * f * H2(E_mu) + Q1 * (1 - H2(e1)))   secret bits per pulse
#
# with q = 1/2 (BB84 sifting). The decoy states let Alice and Bob know Y1 and
# e1 exactly in the infinite-decoy limit, which is what the emulator assumes.
#
# An intercept-resend eavesdropper acting on a fraction p of the pulses adds
# p/4 to every error rate (she guesses the wrong basis half the time, and then
# Bob's bit is random: 1/2 * 1/2). The emulator applies it to E_mu and e1.
# Above the abort threshold (11 % QBER, the BB84 one-way limit) the modules
# raise an alarm and issue no key.
import math
from dataclasses import dataclass, replace

E0 = 0.5  # error rate of a dark count: a random bit
SIFT = 0.5  # q: BB84 keeps the pulses where the bases match
ABORT_QBER = 0.11  # BB84 with one-way post-processing tolerates about 11 %


def h2(x):
    """Binary Shannon entropy in bits; 0 at x <= 0, 1 at x >= 1/2."""
    if x <= 0.0:
        return 0.0
    if x >= 0.5:
        return 1.0
    return -x * math.log2(x) - (1.0 - x) * math.log2(1.0 - x)


@dataclass(frozen=True)
class LinkParams:
    """What sets the link. Defaults: 25 km of standard fibre at 0.2 dB/km,
    the detector figures of the GYS experiment in Ma et al. (2005) except a
    10 % detector efficiency typical of today's gated InGaAs detectors, and a
    100 MHz pulse rate. mu=None means: use the mu that maximises the key rate
    (found numerically; about 0.5 for these figures)."""

    km: float = 25.0
    loss_db_per_km: float = 0.2
    detector_efficiency: float = 0.10  # eta_Bob: Bob's optics and detector
    dark_count_prob: float = 1.7e-6  # Y0, per pulse
    misalignment_error: float = 0.033  # e_detector
    ec_efficiency: float = 1.22  # f(E): error correction above the Shannon limit
    pulse_rate_hz: float = 100e6
    mu: float | None = None  # mean photon number of the signal state
    eavesdrop_fraction: float = 0.0  # pulses under intercept-resend, 0..1

    def check(self):
        """Raise ValueError for parameters outside their physical range."""
        if not (self.km >= 0 and math.isfinite(self.km)):
            raise ValueError("km must be >= 0")
        if not self.loss_db_per_km >= 0:
            raise ValueError("loss_db_per_km must be >= 0")
        for name in ("detector_efficiency", "dark_count_prob", "misalignment_error", "eavesdrop_fraction"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError("%s must be within 0..1" % name)
        if not self.ec_efficiency >= 1.0:
            raise ValueError("ec_efficiency must be >= 1")
        if not self.pulse_rate_hz > 0:
            raise ValueError("pulse_rate_hz must be > 0")
        if self.mu is not None and not 0.0 < self.mu <= 10.0:
            raise ValueError("mu must be within 0..10")
        return self


@dataclass(frozen=True)
class LinkReport:
    """The modelled link at one setting. qber is E_mu, what the modules
    measure; secret_key_rate_bps is R times the pulse rate, 0 when R < 0."""

    mu: float
    transmittance: float  # eta
    gain: float  # Q_mu
    qber: float  # E_mu
    single_photon_yield: float  # Y1
    single_photon_gain: float  # Q1
    single_photon_error: float  # e1
    key_rate_per_pulse: float  # R, may be negative (no key)
    secret_key_rate_bps: float
    alarm: bool  # qber above ABORT_QBER


def transmittance(params):
    return params.detector_efficiency * 10.0 ** (-params.loss_db_per_km * params.km / 10.0)


def _rate_terms(params, mu, eta):
    y0 = params.dark_count_prob
    e_det = params.misalignment_error
    eve = params.eavesdrop_fraction / 4.0
    clicks = 1.0 - math.exp(-eta * mu)
    gain = y0 + clicks - y0 * clicks  # Y0 + 1 - exp(-eta mu), no double count
    qber = min(0.5, (E0 * y0 + e_det * clicks) / gain + eve)
    y1 = y0 + eta - y0 * eta
    q1 = y1 * mu * math.exp(-mu)
    e1 = min(0.5, (E0 * y0 + e_det * eta) / y1 + eve)
    rate = SIFT * (-gain * params.ec_efficiency * h2(qber) + q1 * (1.0 - h2(e1)))
    return gain, qber, y1, q1, e1, rate


def key_rate_per_pulse(params, mu):
    """R at mean photon number mu (may be negative)."""
    return _rate_terms(params, mu, transmittance(params))[5]


def optimal_mu(params):
    """The mu in (0, 1.5] that maximises R: golden-section search (R is
    unimodal in mu for these terms)."""
    lo, hi = 1e-4, 1.5
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a = hi - ratio * (hi - lo)
    b = lo + ratio * (hi - lo)
    ra, rb = key_rate_per_pulse(params, a), key_rate_per_pulse(params, b)
    for _ in range(80):
        if ra < rb:
            lo, a, ra = a, b, rb
            b = lo + ratio * (hi - lo)
            rb = key_rate_per_pulse(params, b)
        else:
            hi, b, rb = b, a, ra
            a = hi - ratio * (hi - lo)
            ra = key_rate_per_pulse(params, a)
    return (lo + hi) / 2.0


def evaluate(params):
    """The LinkReport for `params` (checked first)."""
    params.check()
    # Alice sets mu for the link she knows, not for an eavesdropper.
    mu = params.mu if params.mu is not None else optimal_mu(replace(params, eavesdrop_fraction=0.0))
    eta = transmittance(params)
    gain, qber, y1, q1, e1, rate = _rate_terms(params, mu, eta)
    alarm = qber > ABORT_QBER
    bps = rate * params.pulse_rate_hz if rate > 0 and not alarm else 0.0
    return LinkReport(mu, eta, gain, qber, y1, q1, e1, rate, bps, alarm)


def cutoff_km(params, hi_km=400.0):
    """The fibre length where the key rate (at the optimal or the fixed mu)
    falls to zero: bisection to 1 m."""
    def positive(km):
        p = replace(params, km=km)
        mu = p.mu if p.mu is not None else optimal_mu(p)
        return key_rate_per_pulse(p, mu) > 0

    lo = 0.0
    if not positive(lo):
        return 0.0
    if positive(hi_km):
        return hi_km
    while hi_km - lo > 1e-3:
        mid = (lo + hi_km) / 2.0
        if positive(mid):
            lo = mid
        else:
            hi_km = mid
    return lo
