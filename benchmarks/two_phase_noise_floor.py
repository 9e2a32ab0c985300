"""What share of two-phase codes can land within +-1 LSB of the per-phase ideal quantisation
once the neuron's sampling noise is counted (issue 17's (6,8) / (8,10) code targets).

The code check (tests/mvm_reference.py) compares c = 2^L c_hi + c_lo with
2^L floor(y_hi) + floor(y_lo): one code of error in the high phase is 2^L codes of the MVM, so
the high phase must convert exactly. Our transients are noise-free, but the chip's neuron is not:
every transfer samples the held line onto C_sample (kT/C_s of charge, moved onto C_integ) and
every plane's track switch samples the line onto C_hold (kT/C_hold, re-sampled with the
plane's held weight). This script takes those two kT/C terms only -- a lower bound: no OTA,
comparator or reference noise, no second sampling per transfer -- from the circuit's own
capacitors (pycim.assumptions) and the held plane weights (pycim.cim.closed_form), and draws
Monte Carlo codes with the check's own definitions.

    python benchmarks/two_phase_noise_floor.py [--temp-k 300] [--n 200000]

Prints, per (in, out): L, the integrator LSB, sigma per phase (in LSB) and the share of outputs
within +-1 LSB with that noise alone, and the same for a noise-free neuron with a bias of b LSB
in the high phase (what a deterministic simulation must stay under); then how well the chip
repeats itself: two noisy reads of the same MVM, the RMS of their difference and the share of
256-output reads whose largest difference is at most 2 LSB (issue 18's held-out bounds for a
model against one simulation), two-phase and, for comparison, one-phase at the same LSB.
"""

from __future__ import annotations

import argparse
import math

import numpy as np

from pycim import assumptions
from pycim.cim.closed_form import held_plane_weights

K_B = 1.380649e-23


def split_bits(in_bits: int) -> tuple[int, int]:
    """(H, L) magnitude bits of the high and low slices (as tests/mvm_reference.py)."""
    m = in_bits - 1
    h = -(-m // 2)
    return h, m - h


def phase_sigma_v(planes: int, temp_k: float) -> float:
    """Integrator-referred kT/C noise (V rms) of one phase with ``planes`` magnitude planes."""
    c_s = assumptions.value("neuron_c_sample_eff_f")
    c_h = assumptions.value("neuron_c_hold_eff_f")
    c_i = assumptions.value("neuron_c_integ_f")
    kt = K_B * temp_k
    transfers = 2 ** planes - 1
    w = held_plane_weights(planes + 1, c_h, c_s)  # in_bits = planes + 1 (signed)
    var_line = transfers * kt / c_s + float(np.sum(w ** 2)) * kt / c_h
    return (c_s / c_i) * math.sqrt(var_line)


def pm1_share(low: int, sig_hi: float, sig_lo: float, bias_hi: float, n: int,
              rng: np.random.Generator) -> float:
    """Share of |c - (2^L floor(y_hi) + floor(y_lo))| <= 1 (sigmas and bias in LSB)."""
    y_hi = rng.uniform(-20, 20, n)
    y_lo = rng.uniform(-20, 20, n)
    c = 2 ** low * np.floor(y_hi + bias_hi + sig_hi * rng.standard_normal(n)) \
        + np.floor(y_lo + sig_lo * rng.standard_normal(n))
    ref = 2 ** low * np.floor(y_hi) + np.floor(y_lo)
    return float(np.mean(np.abs(c - ref) <= 1))


def read_to_read(low: int, sig_hi: float, sig_lo: float, n: int, rng: np.random.Generator,
                 outputs: int = 256) -> tuple[float, float]:
    """Two reads of the same outputs, each with its own noise (sigmas in LSB; ``low`` = 0: a
    one-phase code, ``sig_lo`` unused): RMS of c1 - c2 in LSB of the MVM, and the share of
    ``outputs``-output reads (a core's outputs) whose largest |c1 - c2| is at most 2."""
    n = n - n % outputs
    y_hi, y_lo = rng.uniform(-20, 20, n), rng.uniform(-20, 20, n)

    def read():
        c = np.floor(y_hi + sig_hi * rng.standard_normal(n))
        if low:
            c = 2 ** low * c + np.floor(y_lo + sig_lo * rng.standard_normal(n))
        return c
    d = read() - read()
    return (float(np.sqrt(np.mean(d * d))),
            float(np.mean(np.abs(d).reshape(-1, outputs).max(axis=1) <= 2)))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--temp-k", type=float, default=300.0)
    ap.add_argument("--n", type=int, default=200_000)
    args = ap.parse_args(argv)
    if args.n < 256:
        ap.error(f"--n must be >= 256 (one core's outputs), got {args.n}")
    if not args.temp_k > 0:
        ap.error(f"--temp-k must be > 0, got {args.temp_k}")
    fs = assumptions.value("neuron_adc_fs_v")
    rng = np.random.default_rng(0)
    print(f"C_s,eff {assumptions.value('neuron_c_sample_eff_f') * 1e15:.1f} fF, C_hold,eff "
          f"{assumptions.value('neuron_c_hold_eff_f') * 1e15:.1f} fF, C_integ "
          f"{assumptions.value('neuron_c_integ_f') * 1e15:.0f} fF, FS {fs} V, {args.temp_k} K")
    for in_bits, out_bits in ((5, 7), (6, 8), (7, 9), (8, 10)):
        h, low = split_bits(in_bits)
        q = 2 * fs / 2 ** out_bits
        s_hi, s_lo = phase_sigma_v(h, args.temp_k) / q, phase_sigma_v(low, args.temp_k) / q
        share = pm1_share(low, s_hi, s_lo, 0.0, args.n, rng)
        bias = {b: pm1_share(low, 0.0, 0.0, b, args.n, rng) for b in (0.05, 0.1, 0.3)}
        print(f"({in_bits},{out_bits}): L={low}, LSB {q * 1e3:.3f} mV; kT/C sigma hi "
              f"{s_hi:.3f} / lo {s_lo:.3f} LSB -> within +-1: {share:.3f}; noise-free with a "
              f"high-phase bias of " + ", ".join(f"{b} LSB: {v:.3f}" for b, v in bias.items()))
        rms2, ok2 = read_to_read(low, s_hi, s_lo, args.n, rng)
        s_one = phase_sigma_v(in_bits - 1, args.temp_k) / q
        rms1, ok1 = read_to_read(0, s_one, 0.0, args.n, rng)
        print(f"    read to read (two noisy reads of the same MVM, kT/C only): two-phase RMS "
              f"{rms2:.3f} LSB, 256-output reads with max <= 2: {ok2:.3f}; one-phase "
              f"(sigma {s_one:.3f} LSB) RMS {rms1:.3f}, max <= 2: {ok1:.3f}")


if __name__ == "__main__":
    main()
