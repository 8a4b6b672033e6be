"""The proof for issue 32: every artifact of the given runs on an emulated arm64 Debian, against this x86 machine.

    sudo .venv/bin/python benchmarks/arm64_box.py up
    .venv/bin/python benchmarks/arm64_check.py RUN_DIR --items 50 --out benchmarks/results/arm64_box.json

1. ``edgetl bench RUNS --device <box>/profiles/arm64-emulated.yaml --device <box>/profiles/arm64-emulated-onnx.yaml``
   over SSH into the box, on a fixed subset of each run's validation split (``--max-images``: bench's seeded
   choice for photos, the first N texts), and the same command on ``host-cpu`` and ``host-onnx`` here;
2. ``edgetl predict MODEL --selftest`` inside the box for every artifact (its sidecar beside it);
3. per artifact: top-1 labels on arm64 equal to x86 (share of items), the largest and mean score difference,
   accuracy on both, the box's providers and fingerprint, the emulated timings kept apart.

Writes ``--out`` (``results/arm64_box.json`` for the image main job, ``results/arm64_box_text.json`` for the
text one; RESULTS "arm64 in a box" is generated from both), with the commit, both machines, the box's build
costs, the graph ONNX Runtime runs on each, and which armhf (32-bit Raspberry Pi OS) wheels exist on PyPI today.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
import arm64_box  # noqa: E402

ARMHF = ("ai-edge-litert", "onnxruntime", "numpy", "pillow", "tflite-runtime")


def bench(runs: list[str], devices: list[str], items: int, out: Path, log: Path) -> dict:
    cmd = [sys.executable, "-m", "edgetl.cli.main", "bench", *runs, *[x for d in devices for x in ("--device", d)],
           "--max-images", str(items), "--threads", "1", "--repetitions", "1", "--out", str(out)]
    t0 = time.time()
    with open(log, "w") as f:
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if not (out / "bench.json").is_file():
        sys.exit(f"edgetl bench on {devices} wrote no report (exit {p.returncode}); see {log}")
    doc = json.loads((out / "bench.json").read_text())
    doc["wall_s"], doc["exit_code"] = round(time.time() - t0, 1), p.returncode
    return doc


def selftests(state: dict, runs: list[str]) -> dict[str, dict]:
    """``edgetl predict MODEL --selftest --json`` in the box for every artifact of the runs."""
    from edgetl.runs import read_run, run_path

    out = {}
    for run in runs:
        for target, e in (read_run(Path(run)).get("exports") or {}).items():
            model = run_path(Path(run), e["path"])
            where = f"/tmp/edgetl-selftest/{Path(run).name}"
            for f in (model, model.with_name(model.name + ".json")):
                if f.is_file():
                    arm64_box._ssh(state, ["sh", "-c", f'mkdir -p "$1" && cat > "$1/$2"', "sh", where, f.name],
                                   timeout=300, input=f.read_bytes())
            t0 = time.time()
            p = arm64_box._ssh(state, [f"{arm64_box.VENV}/bin/edgetl", "predict", f"{where}/{model.name}",
                                       "--selftest", "--json"], timeout=1800)
            tail = (p.stderr or "").strip().splitlines()
            out[f"{Path(run).name}/{target}"] = {"ok": p.returncode == 0, "exit_code": p.returncode,
                                                 "said": tail[-1][:300] if tail else "",
                                                 "wall_s": round(time.time() - t0, 1)}
            print(f"selftest {Path(run).name}/{target}: {'ok' if p.returncode == 0 else 'FAILED'} "
                  f"({out[f'{Path(run).name}/{target}']['said']})", flush=True)
    return out


def compare(arm: dict, x86: dict, twins: dict[str, str]) -> list[dict]:
    """One entry per artifact: arm64 against x86 on the same items."""
    def by_artifact(doc: dict) -> dict[tuple[str, str], tuple[dict, list | None]]:
        return {(r["artifact"], r["device"]): (r, doc.get("scores", {}).get(str(i))) for i, r in enumerate(doc["rows"])}

    a, x = by_artifact(arm), by_artifact(x86)
    fa, fx = float_refs(arm), float_refs(x86)
    out = []
    for (art, dev), (ra, sa) in a.items():
        rx, sx = x.get((art, twins.get(dev)), (None, None))
        e = {"artifact": art, "run": ra["run"], "target": ra["target"], "device": ra["device"],
             "x86_device": twins.get(ra["device"]), "status": ra["status"], "reason": ra["reason"],
             "emulated": ra.get("emulated"), "reliable": ra.get("reliable"), "accuracy_arm64": ra["accuracy"],
             "accuracy_x86": rx["accuracy"] if rx else None, "backend": ra.get("backend"),
             "providers": ra.get("providers"), "emulated_ms": ra.get("emulated_ms"), "items": None}
        if sa and sx and len(sa) == len(sx):
            A, X = np.asarray(sa, np.float64), np.asarray(sx, np.float64)
            d = np.abs(A - X)
            e.update(items=len(sa), labels_equal=int((A.argmax(1) == X.argmax(1)).sum()),
                     labels_equal_share=float((A.argmax(1) == X.argmax(1)).mean()),
                     max_score_diff=float(d.max()), mean_score_diff=float(d.mean()),
                     bit_identical=bool((d == 0).all()))
            # which of the two is nearer the float model (the same run's float artifact on the same device)
            ga, gx = fa.get((ra["run"], ra["device"])), fx.get((ra["run"], twins.get(ra["device"])))
            if ga is not None and gx is not None and ga.shape == A.shape == gx.shape:
                e.update(float_gap_arm64=float(np.abs(A - ga).mean()), float_gap_x86=float(np.abs(X - gx).mean()))
        out.append(e)
    return out


def float_refs(doc: dict) -> dict[tuple[str, str], np.ndarray]:
    """Per (run, device): the scores of its float reference artifact (what verification compares with)."""
    from edgetl import targets

    out = {}
    for i, r in enumerate(doc["rows"]):
        s = doc.get("scores", {}).get(str(i))
        if s and targets.get(r["target"]).is_float_reference:
            out.setdefault((r["run"], r["device"]), np.asarray(s, np.float64))
    return out


ORT_GRAPH = """import collections, sys, onnxruntime as ort
so = ort.SessionOptions(); so.optimized_model_filepath = sys.argv[2]; so.intra_op_num_threads = 1
ort.InferenceSession(sys.argv[1], so, providers=["CPUExecutionProvider"])
"""


def _op_counts(blob: bytes) -> dict[str, int]:
    import onnx

    from edgetl.formats.onnx.graph import op_counts

    return op_counts(onnx.load_from_string(blob))


def ort_graphs(state: dict, runs: list[str]) -> dict[str, dict]:
    """The graph ONNX Runtime's CPU provider actually runs (its optimized model), here and in the box, for each
    quantized ONNX artifact: which nodes run as integer kernels (QLinear*, QGemm) and which stay float."""
    from edgetl import targets
    from edgetl.formats.onnx.graph import kernel_split
    from edgetl.runs import read_run, run_path

    out = {}
    for run in runs:
        for target, e in (read_run(Path(run)).get("exports") or {}).items():
            t = targets.get(target)
            if t.format.name != "onnx" or not t.quantized:
                continue
            model = run_path(Path(run), e["path"])
            with tempfile.TemporaryDirectory() as tmp:
                subprocess.run([sys.executable, "-c", ORT_GRAPH, str(model), f"{tmp}/opt.onnx"], check=True,
                               capture_output=True)
                here = _op_counts(Path(f"{tmp}/opt.onnx").read_bytes())
            arm64_box._ssh(state, ["sh", "-c", "mkdir -p /tmp/edgetl-graph && cat > /tmp/edgetl-graph/m.onnx"],
                           input=model.read_bytes())
            p = arm64_box._ssh(state, [f"{arm64_box.VENV}/bin/python", "-c", ORT_GRAPH, "/tmp/edgetl-graph/m.onnx",
                                       "/tmp/edgetl-graph/opt.onnx"], timeout=900)
            blob = arm64_box._ssh(state, ["cat", "/tmp/edgetl-graph/opt.onnx"], input=b"").stdout if \
                p.returncode == 0 else b""
            arm = _op_counts(blob) if blob else None
            out[f"{Path(run).name}/{target}"] = {"x86": here, "arm64": arm, "x86_split": kernel_split(here),
                                                 "arm64_split": kernel_split(arm) if arm else None}
            print(f"ONNX Runtime graph {Path(run).name}/{target}: x86 {kernel_split(here)}, arm64 "
                  f"{kernel_split(arm) if arm else 'did not load'}", flush=True)
    return out


def armhf_wheels() -> dict[str, bool]:
    """Whether PyPI has a wheel for 32-bit Raspberry Pi OS (linux_armv7l, CPython 3.11) of each runtime package."""
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in ARMHF:
            p = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                                "--platform", "linux_armv7l", "--python-version", "3.11", "--implementation", "cp",
                                "--index-url", "https://pypi.org/simple", "-d", tmp, pkg],
                               capture_output=True, text=True)
            res[pkg] = p.returncode == 0
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("runs", nargs="+", help="edgetl run folders (both main jobs: images and text)")
    ap.add_argument("--items", type=int, default=100, help="validation items per artifact (default 100)")
    ap.add_argument("--dir", help="the box (default as arm64_box.py)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "arm64_box.json"))
    ap.add_argument("--work", default="/tmp/edgetl-arm64-check")
    a = ap.parse_args()
    d = arm64_box.box_dir(a.dir)
    state = json.loads((d / "state.json").read_text()) if arm64_box._pid(d) else None
    if not state:
        sys.exit("the box is not running: sudo .venv/bin/python benchmarks/arm64_box.py up")
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    from edgetl.bench.fingerprint import machine_info

    t0 = time.time()
    git = lambda *x: subprocess.run(["git", *x], capture_output=True, text=True, cwd=REPO).stdout.strip()  # noqa: E731
    commit = git("rev-parse", "--short", "HEAD")  # the box runs the edgetl of this commit (arm64_box.py up)
    installed = json.loads((d / "rootfs" / "etc" / "edgetl" / "installed.json").read_text())
    if installed.get("source") != arm64_box._source_hash():
        sys.exit("the box runs another edgetl than this checkout: run arm64_box.py up again first")
    print("x86 reference (host-cpu, host-onnx) ...", flush=True)
    x86 = bench(a.runs, ["host-cpu", "host-onnx"], a.items, work / "x86", work / "x86.log")
    print(f"arm64 box over SSH (see {work / 'arm64.log'}) ...", flush=True)
    arm = bench(a.runs, [str(d / "profiles" / "arm64-emulated.yaml"), str(d / "profiles" / "arm64-emulated-onnx.yaml")],
                a.items, work / "arm64", work / "arm64.log")
    st = selftests(state, a.runs)
    graphs = ort_graphs(state, a.runs)
    rows = compare(arm, x86, {"arm64-emulated": "host-cpu", "arm64-emulated-onnx": "host-onnx"})
    for r in rows:
        r["selftest"] = st.get(f"{r['run']}/{r['target']}")
    doc = {"script": "benchmarks/arm64_check.py", "date": time.strftime("%Y-%m-%d"), "commit": commit,
           "box_edgetl_source": installed.get("source"),
           "edgetl_modified_since_commit": bool(git("status", "--porcelain", "--untracked-files=no", "--", "edgetl")),
           "machine": machine_info(), "box": state, "box_fingerprint": next(
               (f for k, f in arm.get("fingerprints", {}).items()), None),
           "items_per_artifact": a.items, "runs": [str(Path(r).resolve()) for r in a.runs],
           "bench_exit_code": arm["exit_code"], "bench_wall_s": arm["wall_s"], "best": arm.get("best"),
           "rows": rows, "onnx_runtime_graphs": graphs, "armhf_wheels_cp311": armhf_wheels(), "wall_s": round(time.time() - t0, 1)}
    Path(a.out).write_text(json.dumps(doc, indent=1) + "\n")
    ok = [r for r in rows if r["status"] == "ok"]
    n = sum(r.get("items") or 0 for r in ok)
    same = sum(r.get("labels_equal") or 0 for r in ok)
    print(f"wrote {a.out}: {len(ok)}/{len(rows)} artifacts ok on arm64; labels equal to x86 on {same}/{n} items; "
          f"selftest ok {sum(1 for v in st.values() if v['ok'])}/{len(st)}")


if __name__ == "__main__":
    main()
