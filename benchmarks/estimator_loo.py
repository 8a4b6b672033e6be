"""Calibrate the latency estimator on the published anchors and report its leave-one-out error.

Writes ``edgetl/analysis/calibration.json`` (the fitted factors, not the anchors) so that installed copies
of edgetl can estimate without the anchor file, and ``benchmarks/results/estimator_loo.{json,md}``.

    python benchmarks/estimator_loo.py ../shared/anchors/published_latency.csv
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from edgetl.analysis.estimate import fit, leave_one_out, load_anchors


def main() -> None:
    src = Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/anchors/published_latency.csv")
    anchors = load_anchors(src)
    rows = leave_one_out(anchors)
    ape = np.array([r["ape"] for r in rows])
    f = fit(anchors)
    cal = {"e_dense": f.e_dense, "p_int8": f.p_int8, "alpha": f.alpha, "s_ms_per_mb": round(f.s_ms_per_mb, 4),
           "groups": f.groups, "efficiency": f.efficiency, "anchors": len(anchors),
           "loo_median_ape": round(float(np.median(ape)), 4), "loo_p80_ape": round(float(np.percentile(ape, 80)), 4),
           "calibrated_on": f"{src.name}, {time.strftime('%Y-%m-%d')}"}
    Path("edgetl/analysis/calibration.json").write_text(json.dumps(cal, indent=2) + "\n")
    out = Path("benchmarks/results")
    out.mkdir(parents=True, exist_ok=True)
    (out / "estimator_loo.json").write_text(json.dumps({"calibration": cal, "rows": rows}, indent=2) + "\n")
    lines = [f"Leave-one-out on {len(anchors)} published anchors ({time.strftime('%Y-%m-%d')}): median APE "
             f"{np.median(ape):.1%}, 80th percentile {np.percentile(ape, 80):.1%}. Fitted: dense-conv factor "
             f"{f.e_dense:.2f}, int8 CPU speed-up {f.p_int8:.2f}, threads^{f.alpha:.2f}, Edge TPU streaming "
             f"{f.s_ms_per_mb:.2f} ms/MB beyond 8 MB.", "",
             "| id | group | model | precision | threads | published ms | predicted ms | APE | group had other anchors |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['id']} | {r['group']} | {r['model']} | {r['precision']} | {r['threads']} | "
                     f"{r['published_ms']} | {r['predicted_ms']} | {r['ape']:.0%} | {r['group_had_other_anchors']} |")
    (out / "estimator_loo.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
