"""The benchmark protocol's pieces: noise verdicts, repetitions combined, best artifact per device, labels."""
from __future__ import annotations

import numpy as np
import pytest


def test_verdict_names_each_reason() -> None:
    from edgetl.bench.noise import verdict

    quiet = {"other_cpu_frac": 0.01, "steal_frac": 0.0, "clock_mhz_start": 3000.0, "clock_mhz_end": 2990.0}
    assert verdict([quiet, quiet], 0.01, 0.05) == (True, "")
    ok, why = verdict([quiet, {**quiet, "other_cpu_frac": 0.4}], 0.01, 0.05)
    assert not ok and "other processes used 40%" in why
    ok, why = verdict([{**quiet, "steal_frac": 0.1}], None, 0.05)
    assert not ok and "stole 10%" in why
    ok, why = verdict([{**quiet, "clock_mhz_end": 1500.0}], None, 0.05)
    assert not ok and "throttling" in why
    ok, why = verdict([quiet], 0.12, 0.05)
    assert not ok and "differ by 12.0%" in why
    # with the repetition medians: one outlier of three does not move the median of medians
    assert verdict([quiet] * 3, 0.3, 0.05, [1.0, 1.02, 1.3])[0]
    ok, why = verdict([quiet] * 3, 0.3, 0.05, [1.0, 1.15, 1.3])
    assert not ok and "only 1 of 3" in why


def test_observed_sees_another_process_working() -> None:
    """A second process spinning on one core while a row is timed shows up as other processes' CPU use."""
    import os
    import subprocess
    import sys
    import time

    from edgetl.bench.noise import observed

    if not os.path.exists("/proc/stat"):
        pytest.skip("no /proc/stat on this system")
    busy = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 4: pass"])
    try:
        time.sleep(0.3)
        _, info = observed(lambda: time.sleep(1.0))  # the worker itself idles: the load is someone else's
    finally:
        busy.kill()
    cores = os.cpu_count() or 1
    assert info["other_cpu_frac"] >= 0.6 / cores, info


def test_sustained_reports_windows() -> None:
    from edgetl.bench.timing import sustained

    res, lat, windows = sustained(lambda: sum(range(1000)), 0.6, window_s=0.2)
    assert len(windows) >= 2 and res.runs == len(lat) == sum(w["runs"] for w in windows)
    assert all(w["p50_ms"] > 0 for w in windows)


def _row(dev: str, target: str, p50: float, acc: float | None, status: str = "ok", run: str = "r") -> dict:
    return {"device": dev, "artifact": f"/x/{target}", "target": target, "threads": 1, "p50_ms": p50, "run": run,
            "accuracy": acc, "status": status, "estimate": None}


def test_best_per_device_respects_the_budget_against_the_float_artifact() -> None:
    from edgetl.bench.report import best_per_device

    rows = [_row("cpu", "tflite:fp32", 3.0, 0.93), _row("cpu", "tflite:int8", 1.5, 0.925),
            _row("cpu", "tflite:dynamic", 1.0, 0.85),
            {**_row("coral", "tflite:uint8", None, None, "unreachable"), "artifact": "/x/tflite:int8",
             "estimate": {"p50_ms": 0.2}}]
    best = {b["device"]: b for b in best_per_device(rows, 2.0)}
    assert best["cpu"]["target"] == "tflite:int8" and best["cpu"]["within_budget"]  # dynamic is 8 points down
    assert best["coral"]["basis"] == "estimate" and best["coral"]["accuracy"] == 0.925
    only_bad = [_row("cpu", "tflite:fp32", 3.0, 0.93), _row("npu", "tflite:int8", 1.0, 0.80)]
    b = {x["device"]: x for x in best_per_device(only_bad, 2.0)}["npu"]
    assert not b["within_budget"] and "loses 13.00 points" in b["why"]


def test_the_fastest_answer_comes_from_reliable_rows_and_says_when_there_are_none() -> None:
    from edgetl.bench.report import best_per_device, markdown, summary_lines

    rows = [{**_row("cpu", "tflite:fp32", 3.0, 0.93), "reliable": True},
            {**_row("cpu", "tflite:int8", 1.5, 0.925), "reliable": False, "unreliable_reason": "spread 9%"}]
    b = best_per_device(rows, 2.0)[0]
    assert b["target"] == "tflite:fp32" and b["reliable"] is True  # the faster row is not trusted
    noisy = [{**r, "reliable": False, "unreliable_reason": "spread 9%"} for r in rows]
    b = best_per_device(noisy, 2.0)[0]
    assert b["target"] == "tflite:int8" and b["reliable"] is False
    line = summary_lines([b])[0]
    assert "no reliable measurement here; fastest unreliable: tflite:int8" in line and "spread 9%" in line
    md = markdown(noisy, [b])
    assert "| reliable |" in md.splitlines()[2] or "reliable" in md.splitlines()[2]
    assert "| False |" in md and "spread 9%" in md


def test_an_unknown_accuracy_is_never_within_the_budget() -> None:
    from edgetl.bench.report import best_per_device

    rows = [_row("cpu", "tflite:fp32", 3.0, 0.93), _row("cpu", "tflite:int8", 1.0, None)]
    b = best_per_device(rows, 2.0)[0]
    assert b["target"] == "tflite:fp32" and b["within_budget"]
    blind = [_row("cpu", "tflite:fp32", 3.0, None), _row("cpu", "tflite:int8", 1.0, None)]
    b = best_per_device(blind, 2.0)[0]
    assert not b["within_budget"] and "accuracy unknown for every artifact" in b["why"]


def test_a_warm_up_that_never_settles_marks_the_timing() -> None:
    import itertools

    from edgetl.bench.timing import measure

    ramp = itertools.count(1)

    def slower_each_call() -> None:  # 1, 2, 3 ... ms: never steady
        import time

        time.sleep(next(ramp) * 1e-4)

    res, _ = measure(slower_each_call, warmup_runs=10, min_runs=3, max_runs=3, min_time_s=0.0)
    assert res.steady is False and res.warmup_runs == 30
    res, _ = measure(lambda: sum(range(2000)), warmup_runs=10, min_runs=3, max_runs=3, min_time_s=0.0)
    assert res.steady is True


def test_nearby_points_share_one_label() -> None:
    from edgetl.bench.report import label_groups

    xy = [(1.50, 0.929), (1.51, 0.929), (3.2, 0.931), (10.0, 0.92)]
    groups = label_groups(xy, ["int8 t1", "uint8 t1", "fp32 t1", "dynamic t1"])
    assert [g[1] for g in groups] == ["int8 t1, uint8 t1", "fp32 t1", "dynamic t1"]


def test_repetitions_are_interleaved_and_combined(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Three repetitions of two rows run A B, B A, A B; the row's p50 is the median of the repetition medians."""
    from pathlib import Path

    from edgetl.bench import remote, runner
    from edgetl.devices import DeviceProfile

    calls: list[str] = []
    p50s = {"a": iter([1.0, 1.2, 1.1]), "b": iter([2.0, 2.0, 3.0])}

    def fake_worker(model: Path, threads: int, ev, settings, timeout_s):  # the worker process's JSON answer
        name = model.stem
        calls.append(name)
        p = next(p50s[name])
        return {"status": "ok", "timing": {"p50_ms": p, "runs": 10}, "latencies_ms": [p] * 10,
                "noise": {"other_cpu_frac": 0.0}, "batch": 1}

    monkeypatch.setattr(remote, "run_local", fake_worker)
    arts = [runner.BenchArtifact(tmp_path / f"{n}.tflite", "tflite:fp32", "r", (), (0, 0)) for n in ("a", "b")]
    for a in arts:
        a.path.write_bytes(b"x")
    dev = DeviceProfile.from_dict({"name": "d", "description": "d", "runtime": "litert"}, source="t")
    rows = runner._measure_device(dev, [(a, 1, True) for a in arts], {"timing": {"min_time_s": 3, "max_time_s": 9,
                                                                                   "min_runs": 30, "max_runs": 90},
                                                                        "providers": []}, None, data_dir=None,
                                  max_images=0, cache=tmp_path, timeout_s=5, progress=None, repetitions=3)
    assert calls == ["a", "b", "b", "a", "a", "b"]
    by = {Path(r["artifact"]).stem: r for r in rows}
    assert by["a"]["p50_ms"] == 1.1 and by["a"]["reliable"] is False  # 1.0, 1.1, 1.2: only 1.1 is within 5%
    assert by["b"]["p50_ms"] == 2.0 and by["b"]["p50_spread_pct"] == 50.0
    assert np.isclose(by["a"]["throughput_ips"], 1000 / 1.1)


def test_labels_at_one_accuracy_do_not_overlap_and_estimated_boards_are_plotted() -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edgetl.bench.plots import _overlap, place_labels, plots

    fig, ax = plt.subplots(figsize=(7, 4.5))
    xy = [(2.8, 0.93), (3.1, 0.93), (3.4, 0.93), (3.7, 0.93), (9.0, 0.90)]  # one accuracy, close latencies
    ax.scatter([p[0] for p in xy], [p[1] for p in xy])
    boxes = place_labels(ax, [(p, f"tflite:int8 t{i}") for i, p in enumerate(xy)])
    plt.close(fig)
    assert all(_overlap(a, b) == 0 for i, a in enumerate(boxes) for b in boxes[i + 1:])
    row = {"status": "ok", "p50_ms": 3.0, "accuracy": 0.9, "size_bytes": 1000, "threads": 1, "latencies_ms": [3.0],
           "device": "host-cpu", "target": "tflite:int8", "artifact": "run/tflite:int8"}
    est = {**row, "status": "unreachable", "p50_ms": None, "accuracy": None, "device": "rpi4", "threads": 4,
           "estimate": {"p50_ms": 27.5, "p50_ms_low": 14.8, "p50_ms_high": 46.0}}
    page = plots([row, est])["latency_accuracy"]
    assert "rpi4 (estimate, range)" in page and "host-cpu" in page
