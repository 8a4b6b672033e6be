"""Calibrate the CPU cost model to one device from its own measurements (``edgetl calibrate``).

The published fit predicts a board from its hardware: block. A user who measured a few models on the board
(``edgetl bench ... --json``, or a run's ``bench-*/bench.json``) gets a per-device correction written into the
calibration file beside a copy of the profile (``<name>-calibrated.calibration.json``, named by the profile's
``latency_calibration`` field; the hardware facts stay as they are):

- ``fp32``, ``int8``: for each precision, how much slower (>1) or faster the board runs each part of the published
  model's time than the fit says: the MAC-dense part (convolutions, fully connected), the memory-bound part
  (depthwise, element-wise) and the per-op overhead. Apart from 3 measured models on (2: dense and the rest;
  1: one factor); int8 gains differ most between the parts (VNNI/AMX or dot-product instructions speed up dense
  layers, quantize/requantize steps add per-op cost). A precision not measured follows the published int8 factor;
- ``s``: its thread scaling S(n) = n / (1 + s (n - 1)), when several thread counts were measured;
- ``log_q10``/``log_q90``: the band of its leave-one-model-out residuals (from 3 models on), else the published band.
"""
from __future__ import annotations

import dataclasses
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
    except ConfigError:
        raise
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{p}: not a bench JSON ({str(exc)[:120]}). Pass the file 'edgetl bench ... --json' "
                          "printed, or a run's bench-*/bench.json.") from None
    rows = data if isinstance(data, list) else (data.get("rows") or data.get("results") or []) \
        if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ConfigError(f"{p}: no rows in this bench JSON.")
    if len(rows) > MAX_ROWS:
        raise ConfigError(f"{p}: {len(rows):,} rows, more than the {MAX_ROWS:,} a bench file holds; pass the bench "
                          "JSON of one run.")
    out = [r for r in rows if isinstance(r, dict) and r.get("device") == device and r.get("status") == "ok"
           and _measured(r)]
    if not out:
        names = sorted({str(r.get("device")) for r in rows if isinstance(r, dict)})
        raise ConfigError(f"{p}: no measured rows of device {device!r} (devices in the file: "
                          f"{', '.join(names) or 'none'}). Bench the board first: edgetl bench RUN --device PROFILE.")
    return out


MAX_ROWS = 100_000
MAX_THREADS = 1024


def _measured(r: dict[str, Any]) -> bool:
    """A usable measurement: a finite, positive p50 under a day, a plain artifact path, a sane thread count."""
    p50, threads = r.get("p50_ms"), r.get("threads", 1)
    if r.get("emulated") or r.get("estimate"):  # an emulator's time or an estimate is no measurement
        return False
    if isinstance(p50, bool) or not isinstance(p50, (int, float)) or not math.isfinite(p50) or not 0 < p50 < 8.64e7:
        return False
    if threads is not None and (type(threads) is not int or not 1 <= threads <= MAX_THREADS):
        return False
    return isinstance(r.get("artifact"), str) and 0 < len(r["artifact"]) < 4096 and "\0" not in r["artifact"]


PARTS = ("dense", "memory", "per_op")


def predict_calibrated(model: CostModel, work: Work, cpu: Cpu, threads: int, runtime: str, precision: str,
             cal: dict[str, Any]) -> float:
    """A calibrated device's time: its own factor for each part (dense, memory-bound, per-op) and precision."""
    m = dataclasses.replace(model, s=float(cal.get("s", model.s)))
    parts = m.parts_ms(work, cpu, threads=threads, runtime=runtime)
    coef = np.array([float(v) for v in cal["int8" if precision == "int8" else "fp32"]])
    if coef.shape != (3,) or not np.isfinite(coef).all() or (coef < 0).any():
        raise ValueError("latency_calibration fp32 and int8 must be three non-negative numbers")
    return float(parts @ coef)


def fit_device(model: CostModel, cpu: Cpu, runtime: str, rows: list[tuple[Work, int, str, float, str]]
               ) -> dict[str, Any]:
    """The device's factors per part and precision, and its thread scaling, from (work, threads, precision,
    measured ms, model key) rows: least squares on log errors for each thread-scaling value. The parts are
    fitted apart from 3 measured models on (2: dense and the rest; 1: one factor) in each precision."""
    from .cost import _levenberg_marquardt

    multi = len({min(r[1], cpu.cores) for r in rows}) > 1
    prior_int8 = model.int8.get("tflite/dot" if cpu.dot else "tflite/nodot", 1.0)
    groups = {}
    for p in ("fp32", "int8"):
        n = len({r[4] for r in rows if r[2] == p})
        groups[p] = [0, 1, 2] if n >= 3 else ([0, 1, 1] if n == 2 else [0, 0, 0])
    precs = [p for p in ("fp32", "int8") if groups[p] and any(r[2] == p for r in rows)]
    y = np.log([r[3] for r in rows])
    is_int8 = np.array([r[2] == "int8" for r in rows])
    best = None
    for s in (np.linspace(0.0, 0.9, 46) if multi else [model.s]):
        m = dataclasses.replace(model, s=float(s))
        parts = np.array([m.parts_ms(w, cpu, threads=t, runtime=runtime) for w, t, *_ in rows])

        def factors(theta: np.ndarray) -> dict[str, np.ndarray]:
            out, k = {}, 0
            for p in precs:
                n = max(groups[p]) + 1
                out[p] = np.exp(np.clip(theta[k:k + n][groups[p]], -12, 12))
                k += n
            return out

        def residuals(theta: np.ndarray) -> np.ndarray:
            f = factors(theta)
            c = np.where(is_int8[:, None], f.get("int8", np.ones(3)), f.get("fp32", np.ones(3)))
            return np.concatenate([np.log((parts * c).sum(1)) - y, 0.01 * theta])  # a whisper of ridge: finite

        theta = _levenberg_marquardt(residuals, np.zeros(sum(max(groups[p]) + 1 for p in precs)), n_data=len(rows),
                                     f_scale=10.0)
        err = float(np.sum(residuals(theta)[:len(rows)] ** 2))
        if best is None or err < best[0]:
            best = (err, factors(theta), float(s))
    assert best is not None
    _, coef, s = best
    to_int8 = np.array([prior_int8, prior_int8, 1.0])  # a precision not measured: the published int8 factor
    fp = coef["fp32"] if "fp32" in coef else coef["int8"] / to_int8
    i8 = coef["int8"] if "int8" in coef else fp * to_int8
    return {"fp32": [round(float(v), 4) for v in fp], "int8": [round(float(v), 4) for v in i8],
            "parts": list(PARTS), "s": round(s, 4)}


def calibrate(model: CostModel, cpu: Cpu, runtime: str, rows: list[tuple[Work, int, str, float, str]]
              ) -> dict[str, Any]:
    """The device's fit, and its leave-one-model-out errors (rows: work, threads, precision, ms, model key)."""
    fit = fit_device(model, cpu, runtime, rows)
    models = sorted({r[4] for r in rows})
    resid, per_model = [], []
    if len(models) >= 3:
        for held in models:
            f = fit_device(model, cpu, runtime, [r for r in rows if r[4] != held])
            for w, t, p, ms, key in rows:
                if key == held:
                    pred = predict_calibrated(model, w, cpu, t, runtime, p, f)
                    resid.append(math.log(pred / ms))
                    per_model.append({"model": key, "threads": t, "precision": p, "measured_ms": round(ms, 3),
                                      "predicted_ms": round(pred, 3), "ape": round(abs(pred / ms - 1), 4)})
    out: dict[str, Any] = {**fit, "measurements": len(rows), "models": len(models)}
    if resid:
        r = np.array(resid)
        out.update(log_q10=round(float(np.quantile(r, 0.1)), 4), log_q90=round(float(np.quantile(r, 0.9)), 4),
                   leave_one_model_out_median_ape=round(float(np.median(np.abs(np.expm1(r)))), 4))
    return {"calibration": out, "leave_one_model_out": per_model}
