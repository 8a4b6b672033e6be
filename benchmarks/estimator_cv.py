"""Validate the latency cost model on published figures it was not fitted on, and calibrate it.

    python benchmarks/estimator_cv.py [--out benchmarks/results/estimator_cv.json]

- Leave-one-device-out: for every device, fit on all other devices' anchors, predict all of its anchors (every
  model, thread count and precision).
- Leave-one-twin-group-out: a device held out with its near-twins (the same core type at the same core count, or
  from the same vendor: rpi4 with rpi4 at 1.8 GHz, the two RK3568 boards, the two Orins, the Pixel 2 with the
  Snapdragon 835), so no near-copy of the held-out board stays in the fit. The printed range of an estimate is a
  percentile band of these residuals: the narrowest, starting from 10th..90th, whose coverage reaches 80% when
  each held-out group gets the band drawn from the *other* groups' residuals only. The band is also chosen on one
  half of the groups and its coverage measured on the other half (``band_out_of_fold``).
- Bases: each held-out device is predicted again as a profile that says less (``cost.BASES``: its peak only, its
  cores and clock only); each basis gets its own band, so less information prints a wider range.
- Bias: the share of estimates below the published figure, for every validation.
- Leave-one-source-out: the same with every publication (ncnn's README, XNNPACK's README, the TFLite hosted-model
  table, ...) held out in turn.
- Edge TPU: two boards (USB Accelerator, Dev Board), so it is validated leave-one-model-out instead: every
  model's rows on both boards are predicted by a fit without that model.
- Writes the fit on all anchors, with the range, to edgetl/analysis/calibration.json (package data).
"""
from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from datetime import date
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from edgetl.analysis import edgetpu_cost  # noqa: E402
from edgetl.analysis.anchors import load_rows, source_group  # noqa: E402
from edgetl.analysis.cost import fit, relative_errors  # noqa: E402

CALIBRATION = REPO / "edgetl" / "analysis" / "calibration.json"


def held_out(rows: list, key) -> dict[str, np.ndarray]:
    out = {}
    for g in sorted({key(r) for r in rows}):
        train = [r for r in rows if key(r) != g]
        test = [r for r in rows if key(r) == g]
        out[g] = relative_errors(fit(train), test)
        print(f"  {g}: {len(test)} rows, median error {np.median(np.abs(np.expm1(out[g]))):.1%}", flush=True)
    return out


def commit() -> dict:
    """The commit the fit ran on, and whether edgetl differed from it then."""
    import subprocess

    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True, cwd=REPO).stdout.strip()  # noqa: E731
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "edgetl_modified_since_commit": bool(git("status", "--porcelain", "--untracked-files=no", "--", "edgetl"))}


def twin_groups(rows: list) -> dict[str, str]:
    """device -> its twin group: devices with the same core type and either the same core count or the same
    vendor (the first word of ``soc``) are joined, transitively."""
    from edgetl.analysis.anchors import load_devices

    info = load_devices()
    devs = sorted({r.device for r in rows})
    parent = {d: d for d in devs}

    def root(d: str) -> str:
        while parent[d] != d:
            d = parent[d]
        return d

    for i, a in enumerate(devs):
        for b in devs[i + 1:]:
            ha, hb = info[a], info[b]
            vendor = str(ha.get("soc", "")).split()[:1] == str(hb.get("soc", "")).split()[:1]
            if ha.get("core") == hb.get("core") and (ha.get("cores") == hb.get("cores") or vendor):
                parent[root(b)] = root(a)
    groups: dict[str, list[str]] = {}
    for d in devs:
        groups.setdefault(root(d), []).append(d)
    return {d: "+".join(groups[root(d)]) for d in devs}


def as_basis(cpu, basis: str):
    """The same CPU as a profile of ``basis`` would describe it (its nominal peak where it gives one)."""
    import dataclasses

    from edgetl.analysis.cost import DEFAULT_CLOCK_GHZ, DEFAULT_CORES, TYPICAL_MACS_PER_CYCLE

    peak = 2 * cpu.cores * cpu.clock_ghz * cpu.macs_per_cycle
    if basis == "peak":
        return dataclasses.replace(cpu, core="unknown", known_core=False, basis=basis)
    if basis == "clock":
        return dataclasses.replace(cpu, core="unknown", known_core=False, macs_per_cycle=TYPICAL_MACS_PER_CYCLE,
                                   basis=basis)
    if basis == "peak-only":
        return dataclasses.replace(cpu, core="unknown", known_core=False, cores=DEFAULT_CORES,
                                   clock_ghz=DEFAULT_CLOCK_GHZ,
                                   macs_per_cycle=peak / (2 * DEFAULT_CORES * DEFAULT_CLOCK_GHZ), basis=basis)
    return cpu


def held_out_bases(rows: list, key) -> dict[str, dict[str, np.ndarray]]:
    """basis -> group -> residuals of the held-out group's rows described at that basis."""
    import dataclasses

    from edgetl.analysis.cost import BASES

    out: dict[str, dict[str, np.ndarray]] = {b: {} for b in BASES}
    for g in sorted({key(r) for r in rows}):
        model = fit([r for r in rows if key(r) != g])
        test = [r for r in rows if key(r) == g]
        for b in BASES:
            out[b][g] = relative_errors(model, [dataclasses.replace(r, cpu=as_basis(r.cpu, b)) for r in test])
        print(f"  {g}: {len(test)} rows, median error {np.median(np.abs(np.expm1(out['core'][g]))):.1%}", flush=True)
    return out


def out_of_fold(res: dict[str, np.ndarray], target: float = 0.8) -> dict:
    """The band chosen on one half of the groups (alternate, sorted by name), its coverage on the other half."""
    names = sorted(res)
    halves = [names[0::2], names[1::2]]
    covered = n = 0
    tails = []
    for pick, test in (halves, halves[::-1]):
        sub = {g: res[g] for g in pick}
        tail = band_tail(sub, target)
        tails.append(tail)
        ref = np.concatenate(list(sub.values()))
        lo, hi = np.quantile(ref, tail), np.quantile(ref, 1 - tail)
        for g in test:
            covered += int(((res[g] >= lo) & (res[g] <= hi)).sum())
            n += res[g].size
    return {"coverage": round(covered / max(n, 1), 4), "tails": tails}


def tpu_lomo(tpu_rows: list) -> tuple[np.ndarray, list]:
    """Edge TPU: every model's rows on both boards predicted by a fit without that model."""
    res, rows = [], []
    for held in sorted({o["model"] for o in tpu_rows}):
        f = edgetpu_cost.fit([o for o in tpu_rows if o["model"] != held])
        for o in tpu_rows:
            if o["model"] == held:
                pred = edgetpu_cost.predict_ms(f, o["model_facts"], o["hardware"])
                res.append(math.log(pred / o["latency_ms"]))
                rows.append({"id": o["id"], "model": o["model"], "device": o["device"], "published_ms": o["latency_ms"],
                             "predicted_ms": round(pred, 2), "ape": round(abs(pred / o["latency_ms"] - 1), 4)})
    return np.array(res), rows


def nested_coverage(res: dict[str, np.ndarray], tail: float) -> float:
    """Share of held-out residuals inside the [tail, 1 - tail] quantile band of the *other* groups' residuals."""
    covered = n = 0
    for g, r in res.items():
        rest = np.concatenate([v for k, v in res.items() if k != g])
        lo, hi = np.quantile(rest, tail), np.quantile(rest, 1 - tail)
        covered += int(((r >= lo) & (r <= hi)).sum())  # r = log(pred/obs); obs in [pred/e^hi, pred/e^lo]
        n += r.size
    return covered / n


def band_tail(res: dict[str, np.ndarray], target: float = 0.8) -> float:
    """The widest tail (narrowest band) from 10% down whose nested coverage reaches ``target``."""
    for tail in np.arange(0.10, 0.0, -0.005):
        if nested_coverage(res, float(tail)) >= target:
            return round(float(tail), 3)
    return 0.0


def summary(res: dict[str, np.ndarray], rows: list, key, tail: float = 0.1) -> dict:
    allr = np.concatenate(list(res.values()))
    ape = np.abs(np.expm1(allr))
    covered = nested_coverage(res, tail) * allr.size
    per = []
    for g, r in res.items():
        grp = [x for x in rows if key(x) == g]
        per.append({"group": g, "rows": len(r), "median_ape": round(float(np.median(np.abs(np.expm1(r)))), 4),
                    "median_log_ratio": round(float(np.median(r)), 4),
                    "threads": sorted({x.threads for x in grp}), "runtimes": sorted({x.runtime for x in grp})})
    return {"rows": int(allr.size), "groups": len(res), "median_ape": round(float(np.median(ape)), 4),
            "below_published": round(float(np.mean(allr < 0)), 4),
            "p80_ape": round(float(np.quantile(ape, 0.8)), 4),
            "median_ape_of_group_medians": round(float(np.median([p["median_ape"] for p in per])), 4),
            "band": f"{100 * tail:.1f}th..{100 * (1 - tail):.1f}th percentile of the held-out residuals",
            "coverage_80": round(covered / allr.size, 4), "coverage_plain_10_90": round(nested_coverage(res, 0.1), 4),
            "log_q10": round(float(np.quantile(allr, tail)), 4),
            "log_q90": round(float(np.quantile(allr, 1 - tail)), 4),
            "per_group": per}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "estimator_cv.json")
    args = ap.parse_args()
    rows, other = load_rows()
    print(f"{len(rows)} CPU anchors on {len({r.device for r in rows})} devices; leave-one-device-out:", flush=True)
    lodo = held_out(rows, lambda r: r.device)
    twins = twin_groups(rows)
    print("leave-one-twin-group-out, every basis:", flush=True)
    by_basis = held_out_bases(rows, lambda r: twins[r.device])
    lotgo = by_basis["core"]
    print("leave-one-source-out:", flush=True)
    loso = held_out(rows, lambda r: source_group(r.source))
    model = fit(rows)
    tail = band_tail(lodo)
    s_lodo = summary(lodo, rows, lambda r: r.device, tail)
    s_lodo["band_out_of_fold"] = out_of_fold(lodo)
    s_twin = summary(lotgo, rows, lambda r: twins[r.device], band_tail(lotgo))
    s_twin["band_out_of_fold"] = out_of_fold(lotgo)
    # the printed range: a core type with anchors in the fit gets the leave-one-device-out band; a core type
    # without (held out with its twins) and the profiles that say less get their own, wider bands
    model.log_q10, model.log_q90 = s_lodo["log_q10"], s_lodo["log_q90"]
    bases = {}
    for b, res in by_basis.items():
        sb = summary(res, rows, lambda r: twins[r.device], band_tail(res))
        bases[b] = {k: sb[k] for k in ("median_ape", "below_published", "coverage_80", "log_q10", "log_q90", "band")}
    model.bands = {"core": [s_lodo["log_q10"], s_lodo["log_q90"]],
                   "unseen-core": [bases["core"]["log_q10"], bases["core"]["log_q90"]],
                   **{b: [v["log_q10"], v["log_q90"]] for b, v in bases.items() if b != "core"}}
    in_sample = relative_errors(model, rows)
    tpu_rows = [o for o in other if o["runtime"] == "edgetpu"]
    forms = {}
    for name, power in (("sum", 1.0), ("smooth maximum (shipped)", 3.0), ("maximum", 50.0)):
        edgetpu_cost.POWER = power  # the form: compute and streaming added, or overlapped
        res, lomo = tpu_lomo(tpu_rows)
        forms[name] = round(float(np.median(np.abs(np.expm1(res)))), 4)
        if power == 3.0:
            r, tpu_lomo_rows = res, lomo
    edgetpu_cost.POWER = 3.0
    tpu = edgetpu_cost.fit(tpu_rows)
    tpu.update(log_q10=round(float(np.quantile(r, 0.1)), 4), log_q90=round(float(np.quantile(r, 0.9)), 4),
               lomo_median_ape=round(float(np.median(np.abs(np.expm1(r)))), 4),
               lomo_coverage=round(float(np.mean((r >= np.quantile(r, 0.1)) & (r <= np.quantile(r, 0.9)))), 4),
               lomo_below_published=round(float(np.mean(r < 0)), 4))
    print(f"Edge TPU leave-one-model-out by form: {forms}", flush=True)
    cal = {"schema": 2, "cpu": model.to_dict(), "edgetpu": tpu,
           "validation": {"leave_one_device_out": {k: v for k, v in s_lodo.items() if k != "per_group"},
                          "leave_one_twin_group_out": {k: v for k, v in s_twin.items() if k != "per_group"},
                          "bases": {("unseen-core" if b == "core" else b): {k: v[k] for k in ("median_ape", "coverage_80")}
                                    for b, v in bases.items()},
                          "anchors": len(rows), "devices": len({r.device for r in rows}),
                          "groups": len(set(twins.values()))},
           "calibrated_on": f"edgetl/analysis/anchors.csv, {date.today()}"}
    CALIBRATION.write_text(json.dumps(cal, indent=1) + "\n")
    out = {"script": "benchmarks/estimator_cv.py", "date": str(date.today()), **commit(),
           "anchors": {"cpu_rows": len(rows), "devices": len({r.device for r in rows}),
                       "sources": sorted({source_group(r.source) for r in rows}),
                       "thread_counts": sorted({r.threads for r in rows}), "edgetpu_rows": len(tpu_rows),
                       "other_rows": len(other) - len(tpu_rows)},
           "leave_one_device_out": s_lodo, "leave_one_twin_group_out": s_twin, "bases": bases,
           "leave_one_source_out": summary(loso, rows, lambda r: source_group(r.source), tail),
           "in_sample": {"median_ape": round(float(np.median(np.abs(np.expm1(in_sample)))), 4)},
           "fit": model.to_dict(), "edgetpu": {"fit": tpu, "leave_one_model_out": tpu_lomo_rows, "forms_leave_one_model_out_median": forms},
           "machine": {"python": sys.version.split()[0], "processor": platform.processor() or platform.machine()}}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    lo = out["leave_one_twin_group_out"]
    print(f"leave-one-twin-group-out: median {lo['median_ape']:.1%}, p80 {lo['p80_ape']:.1%}, coverage of the 80% "
          f"range {lo['coverage_80']:.1%} (out of fold {lo['band_out_of_fold']['coverage']:.1%}), below published "
          f"{lo['below_published']:.0%}; leave-one-source-out median {out['leave_one_source_out']['median_ape']:.1%}")
    for b, v in bases.items():
        print(f"  basis {b}: median {v['median_ape']:.1%}, range {v['band']} held {v['coverage_80']:.1%}")


if __name__ == "__main__":
    main()
