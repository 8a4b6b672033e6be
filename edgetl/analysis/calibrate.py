"""Calibrate the CPU cost model to one device from its own measurements (``edgetl calibrate``).

The published fit predicts a board from its hardware: block. A user who measured a few models on the board
(``edgetl bench ... --json``, or a run's ``bench-*/bench.json``) gets a per-device correction written into the
profile's ``hardware.latency_calibration``:

- ``scale``: how much slower (>1) or faster the board is than the published fit says, for fp32;
- ``int8``: its int8 speed against its fp32, when both were measured;
- ``s``: its thread scaling S(n) = n / (1 + s (n - 1)), when several thread counts were measured;
- ``log_q10``/``log_q90``: the band of its leave-one-model-out residuals (from 3 models on), else the published band.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from .cost import Cpu, CostModel, Work

def read_bench_rows(path: str | Path, device: str) -> list[dict[str, Any]]:
    """Measured rows of ``device`` from a bench JSON (a list of rows, or an object with "rows" or "results")."""
    from ..runtime.limits import MAX_BENCH_BYTES, read_bounded

    p = Path(path)
    try:
        data = json.loads(read_bounded(p, MAX_BENCH_BYTES, f"bench file {str(p)!r}", error=ConfigError))
    except OSError as exc:
        raise ConfigError(f"Cannot read bench file {str(p)!r}: {exc.strerror or exc}.") from None
    except ValueError as exc:
        raise ConfigError(f"{p}: not a bench JSON ({exc}). Pass the file 'edgetl bench ... --json' printed, or a "
                          "run's bench-*/bench.json.") from None
    rows = data if isinstance(data, list) else (data.get("rows") or data.get("results") or [])
    if not isinstance(rows, list):
        raise ConfigError(f"{p}: no rows in this bench JSON.")
    out = [r for r in rows if isinstance(r, dict) and r.get("device") == device and r.get("status") == "ok"
           and isinstance(r.get("p50_ms"), (int, float)) and r["p50_ms"] > 0]
    if not out:
        names = sorted({str(r.get("device")) for r in rows if isinstance(r, dict)})
        raise ConfigError(f"{p}: no measured rows of device {device!r} (devices in the file: "
                          f"{', '.join(names) or 'none'}). Bench the board first: edgetl bench RUN --device PROFILE.")
    return out


def _predict(model: CostModel, work: Work, cpu: Cpu, threads: int, runtime: str, precision: str,
             scale: float, int8: float, s: float) -> float:
    m = CostModel(**{**model.__dict__, "s": s})
    ms = m.predict_ms(work, cpu, threads=threads, runtime=runtime, precision="fp32") * scale
    return ms * (int8 if precision == "int8" else 1.0)


def fit_device(model: CostModel, cpu: Cpu, runtime: str, rows: list[tuple[Work, int, str, float]]
               ) -> dict[str, float]:
    """scale, int8 and s for one device from (work, threads, precision, measured ms) rows (log least squares)."""
    has_int8 = any(p == "int8" for _, _, p, _ in rows) and any(p != "int8" for _, _, p, _ in rows)
    multi = len({t for _, t, _, _ in rows if t <= cpu.cores}) > 1
    prior_int8 = model.int8.get("tflite/dot" if cpu.dot else "tflite/nodot", 1.0)
    best = None
    for s in (np.linspace(0.0, 0.9, 91) if multi else [model.s]):
        for int8 in (np.exp(np.linspace(-1.5, 0.7, 45)) if has_int8 else [prior_int8]):
            base = [_predict(model, w, cpu, t, runtime, p, 1.0, float(int8), float(s)) for w, t, p, _ in rows]
            logs = np.log([ms for *_, ms in rows]) - np.log(base)
            log_scale = float(np.mean(logs))
            err = float(np.sum((logs - log_scale) ** 2))
            if best is None or err < best[0]:
                best = (err, math.exp(log_scale), float(int8), float(s))
    assert best is not None
    return {"scale": round(best[1], 4), "int8": round(best[2], 4), "s": round(best[3], 4)}


def calibrate(model: CostModel, cpu: Cpu, runtime: str, rows: list[tuple[Work, int, str, float, str]]
              ) -> dict[str, Any]:
    """The device's fit, and its leave-one-model-out errors (rows: work, threads, precision, ms, model key)."""
    fit = fit_device(model, cpu, runtime, [r[:4] for r in rows])
    models = sorted({r[4] for r in rows})
    resid, per_model = [], []
    if len(models) >= 3:
        for held in models:
            f = fit_device(model, cpu, runtime, [r[:4] for r in rows if r[4] != held])
            for w, t, p, ms, key in rows:
                if key == held:
                    pred = _predict(model, w, cpu, t, runtime, p, f["scale"], f["int8"], f["s"])
                    resid.append(math.log(pred / ms))
                    per_model.append({"model": key, "threads": t, "precision": p, "measured_ms": round(ms, 3),
                                      "predicted_ms": round(pred, 3), "ape": round(abs(pred / ms - 1), 4)})
    out: dict[str, Any] = {**fit, "measurements": len(rows), "models": len(models)}
    if resid:
        r = np.array(resid)
        out.update(log_q10=round(float(np.quantile(r, 0.1)), 4), log_q90=round(float(np.quantile(r, 0.9)), 4),
                   leave_one_model_out_median_ape=round(float(np.median(np.abs(np.expm1(r)))), 4))
    return {"calibration": out, "leave_one_model_out": per_model}
