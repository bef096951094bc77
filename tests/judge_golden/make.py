#!/usr/bin/env python3
"""Expected values for rampdeck's Mann-Whitney judge, computed independently.

    pip install scipy numpy
    python3 tests/judge_golden/make.py      # rewrites tests/judge_golden/cases.json

CI has no SciPy: cases.json is checked in and tests/it/judge_golden.rs only
reads it. Rerun this script (and commit the JSON) when a case is added.

What is computed here, and how (none of it follows the Rust code):
- U and the p-value: scipy.stats.mannwhitneyu, asymptotic, with continuity
  correction (ties corrected by SciPy).
- The interval and estimate of the shift canary - baseline: the normal
  approximation of R's wilcox.test(conf.int = TRUE) that Kayenta uses.
  F(mu) = (W(mu) - sign(W(mu))/2) / sigma(mu) - q, with W(mu) counted over
  all pairs, W = sum_ij sign((x_i - mu) - y_j) / 2, and sigma from the tie
  counts of the combined sample (np.unique); q = +z, -z, 0 for the lower
  end, the upper end and the estimate. F is a step function that jumps only
  at the pairwise differences d, so it is evaluated by brute force on every
  gap between consecutive distinct d (where no x - mu ties a y, so sigma is
  the samples' own; at a jump point itself R's sigma drops and F is not
  monotone). The answer is the midpoint of the set where F changes sign or
  is 0, searched within [min d, max d] as R brackets it: its ends are the
  left end of the first gap with F <= 0 and the right end of the last gap
  with F >= 0. For untied data the interval ends are also checked against
  scipy.optimize.brentq on R's function, with R's rules at the bracket ends.
- The classification: Kayenta's MannWhitneyClassifier and NetflixACAJudge
  rules (NaN strategy, IQR outliers with factor 3 and reduced sensitivity,
  no data, identical samples, one value, the tolerance bounds, the mean
  ratio allowances, the critical ratios), with rampdeck's documented
  differences: +-inf counts as NaN, and no data is NoData under `replace`.
"""

import json
import math
import os
import sys

import numpy as np
from scipy import optimize, stats

HERE = os.path.dirname(os.path.abspath(__file__))

DEFAULTS = {
    "confidence": 0.98,
    "tolerance": 0.25,
    "allowed_increase": 1.0,
    "allowed_decrease": 1.0,
    "critical_increase": None,
    "critical_decrease": None,
    "direction": "either",
    "nan_strategy": "remove",
    "outliers": False,
    "must_have_data": False,
    "critical": False,
}


# ---------------------------------------------------------------- the test


def w_stat(mu, x, y):
    """W(mu) by counting pairs: (#above - #below) / 2, ties count 0."""
    return 0.5 * float(np.sign(np.subtract.outer(x - mu, y)).sum())


def sigma(mu, x, y):
    """The rank sum's sd with the tie correction of the combined sample."""
    nx, ny = len(x), len(y)
    n = nx + ny
    _, counts = np.unique(np.concatenate([x - mu, y]), return_counts=True)
    ties = float((counts.astype(float) ** 3 - counts).sum())
    return math.sqrt(max(nx * ny / 12.0 * ((n + 1) - ties / (n * (n - 1))), 0.0))


def side(mu, q, x, y):
    w = w_stat(mu, x, y)
    s = sigma(mu, x, y)
    return (w - 0.5 * np.sign(w)) / s - q


def solve(q, x, y):
    """Midpoint of where F(mu) - q changes sign or is 0, by brute force."""
    d = np.unique(np.subtract.outer(x, y).ravel())
    if len(d) == 1:
        return float(d[0])
    gaps = [side((a + b) / 2.0, q, x, y) for a, b in zip(d[:-1], d[1:])]
    first = next((float(d[k]) for k, f in enumerate(gaps) if f <= 0), float(d[-1]))
    last = next(
        (float(d[k + 1]) for k in reversed(range(len(gaps))) if gaps[k] >= 0),
        float(d[0]),
    )
    return first / 2.0 + last / 2.0


def r_root(q, x, y):
    """R's root(): the bracket's end when F has no sign change, else brentq."""
    lo, hi = float(x.min() - y.max()), float(x.max() - y.min())
    f = lambda mu: side(mu, q, x, y)  # noqa: E731
    if f(lo) <= 0:
        return lo
    if f(hi) >= 0:
        return hi
    return optimize.brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)


def mann_whitney(x, y, confidence):
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    lower, upper, estimate = solve(z, x, y), solve(-z, x, y), solve(0.0, x, y)
    untied = len(np.unique(np.concatenate([x, y]))) == len(x) + len(y)
    if untied and len(x) * len(y) > 1:
        for mine, q in ((lower, z), (upper, -z)):
            other = r_root(q, x, y)
            scale = max(1.0, abs(other), float(np.abs(np.concatenate([x, y])).max()))
            if abs(mine - other) > 1e-9 * scale:
                sys.exit(f"brute force {mine} != brentq {other} for q={q}: {x} {y}")
    if len(np.unique(np.concatenate([x, y]))) == 1:
        u, p = len(x) * len(y) / 2.0, 1.0  # SciPy answers NaN when all tie
    else:
        res = stats.mannwhitneyu(
            x, y, use_continuity=True, alternative="two-sided", method="asymptotic"
        )
        u, p = float(res.statistic), float(res.pvalue)
    return {"lower": lower, "upper": upper, "estimate": estimate, "p_value": p, "u": u}


# ---------------------------------------------------------- the classifier


def prepare(values, s):
    v = np.array(values, dtype=float)
    if s["nan_strategy"] == "remove":
        v = v[np.isfinite(v)]
    else:
        v = np.where(np.isfinite(v), v, 0.0)
    if s["outliers"] and len(v):
        p01, q1, q3, p99 = np.percentile(v, [1, 25, 75, 99], method="linear")
        iqr = q3 - q1
        lo, hi = min(p01, q1 - 3.0 * iqr), max(p99, q3 + 3.0 * iqr)
        v = v[(v >= lo) & (v <= hi)]
    return v


def classify(canary, baseline, s):
    x, y = prepare(canary, s), prepare(baseline, s)
    out = {
        "classification": "no_data",
        "critical": False,
        "no_data_fails": False,
        "n_canary": len(x),
        "n_baseline": len(y),
        "lower": None,
        "upper": None,
        "estimate": None,
        "p_value": None,
        "u": None,
        "effect_size": None,
    }
    if len(x) == 0 or len(y) == 0:
        out["no_data_fails"] = s["must_have_data"] and not s["critical"]
        out["critical"] = s["critical"]
        return out
    out.update(mann_whitney(x, y, s["confidence"]))
    mx, my = float(np.mean(x)), float(np.mean(y))
    ratio = None if mx == 0 or my == 0 else mx / my
    out["effect_size"] = ratio
    if sorted(x) == sorted(y) or len(set(x) | set(y)) == 1:
        out["classification"] = "pass"
        return out
    bound = s["tolerance"] * abs(out["estimate"])
    up = s["direction"] in ("up", "either")
    down = s["direction"] in ("down", "either")
    if up and out["lower"] > bound and (ratio is None or ratio >= s["allowed_increase"]):
        cls = "high"
    elif down and out["upper"] < -bound and (ratio is None or ratio <= s["allowed_decrease"]):
        cls = "low"
    else:
        cls = "pass"
    out["classification"] = cls
    ci = s["critical_increase"] or 1.0
    cd = s["critical_decrease"] or 1.0
    out["critical"] = s["critical"] and (
        (cls == "high" and (ratio is None or ratio >= ci))
        or (cls == "low" and (ratio is None or ratio <= cd))
    )
    return out


# ----------------------------------------------------------------- the cases


def as_json_sample(v):
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return v


def case(name, canary, baseline, **settings):
    s = dict(DEFAULTS, **settings)
    return {
        "name": name,
        "canary": [as_json_sample(v) for v in canary],
        "baseline": [as_json_sample(v) for v in baseline],
        "settings": settings,
        "expected": classify(canary, baseline, s),
    }


def fixed_cases():
    rng = np.random.default_rng(7)
    base = np.round(rng.normal(100, 5, 40), 2)
    nan, inf = float("nan"), float("inf")
    yield case("identical", base, base)
    yield case("identical_shuffled", rng.permutation(base), base)
    yield case("clear_shift_up", base + 30, base)
    yield case("clear_shift_down", base - 30, base)
    yield case("shift_down_judged_up_only", base - 30, base, direction="up")
    yield case("shift_up_judged_down_only", base + 30, base, direction="down")
    yield case("shift_inside_tolerance", base + 1.0, base)
    yield case("shift_under_allowed_increase", base * 1.05 + 3, base, allowed_increase=1.2)
    yield case("shift_over_allowed_decrease", base * 0.95 - 3, base, allowed_decrease=0.8)
    yield case("critical_high", base * 1.5, base, critical=True)
    yield case("critical_high_under_ratio", base * 1.1 + 2, base, critical=True, critical_increase=1.5)
    yield case("ties_integers", [3, 4, 4, 5, 5, 5, 6, 6, 7, 9], [2, 3, 3, 4, 4, 4, 5, 5, 6])
    yield case("ties_heavy", [1, 1, 1, 2, 2, 2, 2, 3], [1, 1, 2, 2, 2, 2, 2, 2, 3, 3])
    yield case("ties_across_only", [1, 2, 3, 4, 5], [1, 2, 3, 4, 5, 6])
    yield case("constant_equal", [4.0] * 5, [4.0] * 3)
    yield case("constant_different", [5.0] * 10, [2.0] * 10)
    yield case("constant_vs_spread", [3.0] * 8, [1, 2, 2.5, 3, 3.5, 4, 5])
    yield case("n1_n1", [10.0], [1.0])
    yield case("n1_n1_equal", [1.0], [1.0])
    yield case("n2_n1", [10.0, 11.0], [1.0])
    yield case("n3_n2", [10.0, 11.0, 12.0], [1.0, 2.0])
    yield case("n3_n3_overlap", [1.0, 5.0, 9.0], [2.0, 4.0, 8.0])
    yield case("n1_vs_many", [130.0], base)
    yield case("empty_canary", [], base)
    yield case("empty_baseline", base, [])
    yield case("empty_both", [], [])
    yield case("empty_must_have_data", [], base, must_have_data=True)
    yield case("empty_critical", base, [], critical=True, must_have_data=True)
    yield case("empty_replace", [], base, nan_strategy="replace")
    yield case("all_nan_canary", [nan, nan, nan], base)
    yield case("nans_removed", [nan, 131, 129, nan, 135, 128, 133, inf], base)
    yield case("nans_replaced", [nan, 131, 129, nan, 135, 128, 133, -inf], base, nan_strategy="replace")
    yield case("zero_mean_baseline", np.arange(20, 28.0), [-2, -1, 0, 1, 2, -1.5, 1.5, 0])
    yield case("zeros_vs_counts", [0.0] * 12, [0, 1, 0, 2, 1, 0, 0, 3, 1, 0, 0, 1])
    yield case("outlier_kept", np.append(base + 0.5, 5000.0), base)
    yield case("outlier_removed", np.append(base + 0.5, 5000.0), base, outliers=True)
    yield case("tiny_scale", base * 1e-7 + 2e-6, base * 1e-7)
    yield case("huge_scale", base * 1e12 + 3e13, base * 1e12)
    yield case("negative_values", -base - 10, -base)
    yield case("confidence_0_9", base + 2.5, base, confidence=0.9)
    yield case("tolerance_0", base + 0.8, base, tolerance=0.0)


def random_cases(n=30):
    rng = np.random.default_rng(20240611)
    for i in range(n):
        nx, ny = int(rng.integers(1, 61)), int(rng.integers(1, 61))
        kind = ["normal", "lognormal", "poisson"][i % 3]
        rel = float(rng.choice([0.0, 0.02, 0.1, 0.3, -0.1, -0.3]))
        if kind == "normal":
            y = rng.normal(50, 8, ny)
            x = rng.normal(50 * (1 + rel), 8, nx)
        elif kind == "lognormal":
            y = rng.lognormal(3, 0.6, ny)
            x = rng.lognormal(3 + rel, 0.6, nx)
        else:
            y = rng.poisson(6, ny).astype(float)
            x = rng.poisson(6 * (1 + rel), nx).astype(float)
        if i % 4 == 1:
            x, y = np.round(x, 1), np.round(y, 1)
        settings = {}
        if i % 5 == 2:
            settings["confidence"] = 0.95
        if i % 7 == 3:
            settings["direction"] = "up"
        yield case(f"random_{i:02}_{kind}_{nx}x{ny}_{rel:+}", x, y, **settings)


def main():
    cases = list(fixed_cases()) + list(random_cases())
    path = os.path.join(HERE, "cases.json")
    doc = {
        "about": "Generated by make.py (SciPy " + __import__("scipy").__version__
        + ", NumPy " + np.__version__ + "); do not edit by hand.",
        "cases": cases,
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"{len(cases)} cases -> {path}")


if __name__ == "__main__":
    main()
