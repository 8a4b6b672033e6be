"""Validate the latency cost model on published figures it was not fitted on, and calibrate it.

    python benchmarks/estimator_cv.py [--out benchmarks/results/estimator_cv.json]

- Leave-one-device-out: for every device, fit on all other devices' anchors, predict all of its anchors (every
  model, thread count and precision). The printed range of an estimate is a percentile band of these residuals:
  the narrowest, starting from 10th..90th, whose coverage reaches 80% when each held-out device gets the band
  drawn from the *other* devices' residuals only (that nested coverage is what the raw file reports).
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
    print("leave-one-source-out:", flush=True)
    loso = held_out(rows, lambda r: source_group(r.source))
    model = fit(rows)
    tail = band_tail(lodo)  # the printed range: the narrowest band that held 80% of unseen devices' anchors
    s_lodo = summary(lodo, rows, lambda r: r.device, tail)
    model.log_q10, model.log_q90 = s_lodo["log_q10"], s_lodo["log_q90"]
    in_sample = relative_errors(model, rows)
    tpu_rows = [o for o in other if o["runtime"] == "edgetpu"]
    tpu = edgetpu_cost.fit(tpu_rows)
    tpu_lomo, tpu_res = [], []
    for held in sorted({o["model"] for o in tpu_rows}):  # Edge TPU: leave one model out (both boards' rows)
        f = edgetpu_cost.fit([o for o in tpu_rows if o["model"] != held])
        for o in tpu_rows:
            if o["model"] == held:
                pred = edgetpu_cost.predict_ms(f, o["model_facts"], o["hardware"])
                tpu_res.append(math.log(pred / o["latency_ms"]))
                tpu_lomo.append({"id": o["id"], "model": o["model"], "device": o["device"],
                                 "published_ms": o["latency_ms"], "predicted_ms": round(pred, 2),
                                 "ape": round(abs(pred / o["latency_ms"] - 1), 4)})
    r = np.array(tpu_res)
    tpu.update(log_q10=round(float(np.quantile(r, 0.1)), 4), log_q90=round(float(np.quantile(r, 0.9)), 4),
               lomo_median_ape=round(float(np.median(np.abs(np.expm1(r)))), 4),
               lomo_coverage=round(float(np.mean((r >= np.quantile(r, 0.1)) & (r <= np.quantile(r, 0.9)))), 4))
    cal = {"schema": 2, "cpu": model.to_dict(), "edgetpu": tpu,
           "validation": {"leave_one_device_out": {k: v for k, v in s_lodo.items() if k != "per_group"},
                          "anchors": len(rows), "devices": len({r.device for r in rows})},
           "calibrated_on": f"edgetl/analysis/anchors.csv, {date.today()}"}
    CALIBRATION.write_text(json.dumps(cal, indent=1) + "\n")
    out = {"script": "benchmarks/estimator_cv.py", "date": str(date.today()),
           "anchors": {"cpu_rows": len(rows), "devices": len({r.device for r in rows}),
                       "sources": sorted({source_group(r.source) for r in rows}),
                       "thread_counts": sorted({r.threads for r in rows}), "edgetpu_rows": len(tpu_rows),
                       "other_rows": len(other) - len(tpu_rows)},
           "leave_one_device_out": s_lodo, "leave_one_source_out": summary(loso, rows, lambda r: source_group(r.source), tail),
           "in_sample": {"median_ape": round(float(np.median(np.abs(np.expm1(in_sample)))), 4)},
           "fit": model.to_dict(), "edgetpu": {"fit": tpu, "leave_one_model_out": tpu_lomo},
           "machine": {"python": sys.version.split()[0], "processor": platform.processor() or platform.machine()}}
    args.out.write_text(json.dumps(out, indent=1) + "\n")
    lo = out["leave_one_device_out"]
    print(f"leave-one-device-out: median {lo['median_ape']:.1%}, p80 {lo['p80_ape']:.1%}, coverage of the 80% range "
          f"{lo['coverage_80']:.1%}; leave-one-source-out median {out['leave_one_source_out']['median_ape']:.1%}")


if __name__ == "__main__":
    main()
