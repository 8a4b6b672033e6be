"""RESULTS.md (and the README's measured block) generated from the raw files in benchmarks/results/.

    python benchmarks/results.py           # write RESULTS.md and the README block
    python benchmarks/results.py --check   # exit 1 when either differs from what the raw files say

Every number in RESULTS.md is read from a raw file that a script in benchmarks/ wrote (date, machine and
versions inside); nothing here is typed by hand. A section whose raw file is missing says which script
makes it.
"""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))  # benchmarks/prose.py beside it
RAW = ROOT / "results"
RESULTS = ROOT / "RESULTS.md"
README = ROOT.parent / "README.md"


def markers(name: str) -> tuple[str, str]:
    return f"<!-- results:{name} begin (benchmarks/results.py) -->", f"<!-- results:{name} end -->"


def load(name: str) -> Any | None:
    p = RAW / name
    return json.loads(p.read_text()) if p.is_file() else None


def machine(m: Any) -> str:
    if isinstance(m, dict):
        v = m.get("versions", {})
        libs = ", ".join(f"{k} {v[k]}" for k in ("ai-edge-litert", "onnxruntime", "onnxruntime-gpu", "openvino")
                         if k in v)
        return f"{m.get('cpu', '?')}, {m.get('cores', '?')} cores, {m.get('os', '')}, Python {m.get('python', '?')}" + (
            f"; {libs}" if libs else "")
    return str(m)


def source(raw: str, script: str, doc: dict[str, Any]) -> str:
    commit = (f"; commit {doc['commit']}{'+' if doc.get('edgetl_modified_since_commit') else ''}" if doc.get("commit")
              else "; commit not recorded (a raw file from before the scripts recorded it)")
    return f"Raw: `results/{raw}` (written by `{script}` on {doc.get('date', '?')}; {machine(doc.get('machine'))}{commit})."


def status(r: dict[str, Any]) -> str:
    """An export row's status in today's words: raw files before the status vocabulary said "flagged" for what
    is now "over budget" (the same rule: the whole 95% interval over the budget)."""
    return {"flagged": "over budget"}.get(r.get("status", ""), r.get("status", ""))


def _commit(doc: dict[str, Any]) -> str:
    return (f"commit {doc['commit']}{'+' if doc.get('edgetl_modified_since_commit') else ''}" if doc.get("commit")
            else "commit not recorded")


def f(v: Any, d: int = 2) -> str:
    return "-" if v is None else f"{v:.{d}f}" if isinstance(v, float) else str(v)


def pct(v: Any) -> str:
    return "-" if v is None else f"{v:.1f}%"


def rel(v: Any) -> str:
    """A ratio minus one (0.12) as a signed percentage (+12.0%)."""
    return "-" if v is None else f"{v * 100:+.1f}%"


def missing(raw: str, command: str) -> str:
    return f"Not measured yet: `{command}` writes `results/{raw}`.\n"


# ---------------------------------------------------------------- sections

def main_job() -> str:
    d = load("main_job.json")
    out = ["## Main job: the README's `edgetl pipeline examples/flowers.yaml`\n"]
    if d is None:
        return out[0] + missing("main_job.json", "python benchmarks/main_job.py --shared ../shared")
    t, data = d["train"], d["train"]["data"]
    st, ft, tm = t["strategy"], t.get("fine_tune") or {}, t["timings_s"]
    out.append(source("main_job.json", "benchmarks/main_job.py", d) + "\n")
    out.append(f"tf_flowers from `../shared/datasets/flowers`: {sum(data['counts'].values())} photos, "
               f"{data['train_images']} train / {data['val_images']} validation ({data['val_source']}). "
               f"{t['model']['backbone']} {t['model']['alpha']}/{t['model']['input_size']}, weights "
               f"`{Path(str(t['model']['weights'])).name}`.\n")
    out.append(f"- Whole command from cold caches (train, {len(d['exports'])} exports with verification, benchmark): "
               f"**{d['wall_s'] / 60:.1f} min** wall time; exit code {d['exit_code']}.")
    noise = d.get("stderr_library_lines")
    if noise is not None:
        out.append(f"- Lines that TensorFlow, Keras, LiteRT, ONNX Runtime or a converter wrote to stderr (without -v): "
                   f"**{len(noise)}**" + (f", the first: `{noise[0][:120]}`" if noise else "") + ".")
    out.append("- Train stage timings (s): " + ", ".join(f"{k.removesuffix('_s')} {v}" for k, v in tm.items()) + ".")
    choice = st.get("strategy")
    why = ", ".join(f"{k} {f(v, 3) if isinstance(v, float) else v}" for k, v in st.items()
                    if k not in ("strategy", "reason") and not isinstance(v, (dict, list)))
    out.append(f"- `auto` chose `{choice}` ({why}).")
    if ft:
        out.append(f"- Fine-tuned from `{ft.get('from_layer')}` ({ft.get('trainable_layers')} trainable layers"
                   + (f", cached cut `{ft['cached_cut']}`" if ft.get("cached_cut") else "") + f") at {ft.get('lr')}; "
                   f"BatchNorm statistics unchanged: {ft.get('batchnorm_statistics_unchanged')}.")
    v = t["validation"]
    out.append(f"- **Validation top-1 {v['top1']:.4f}**, top-5 {f(v.get('top5'), 4)} on {v['images']} images "
               "(the split that also chose the best epoch, so slightly optimistic).")
    te = t.get("test")
    if te:
        out.append(f"- **Test top-1 {te['top1']:.4f}**, top-5 {f(te.get('top5'), 4)} on {te['images']} held-out images "
                   "(used for no choice).")
    out.append("\nValidation split (what the verdict uses), and the held-out test split:\n")
    out.append("| artifact | status | MiB | val top-1 | vs Keras (points) | drop 95% interval | agreement with Keras | "
               "test top-1 | test vs Keras |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in d["exports"]:
        ci = r.get("accuracy_drop_ci95_points")
        tt = r.get("test") or {}
        tdrop = "-" if tt.get("accuracy_drop_points") is None else f"{-tt['accuracy_drop_points'] + 0.0:+.2f}"
        out.append(f"| {r['target']} | {status(r)} | {r['size_bytes'] / 2**20:.1f} | {r['accuracy']:.4f} | "
                   f"{-r['accuracy_drop_points'] + 0.0:+.2f} | "
                   f"{'-' if not ci else f'{-ci[1] + 0.0:+.2f}..{-ci[0] + 0.0:+.2f}'} | {r['top1_agreement']:.4f} | "
                   f"{f(tt.get('accuracy'), 4)} | {tdrop} |")
    b = d.get("bench")
    if b:
        out.append("\nThe benchmark step (" + ", ".join(b["devices"]) + "):\n")
        out.append("| device | artifact | threads | status | p50 ms | spread | p90 ms | top-1 | reliable | note |")
        out.append("|---|---|---|---|---|---|---|---|---|---|")
        for r in b["rows"]:
            est = r.get("estimate")
            note = (f"estimate {est['p50_ms_low']}-{est['p50_ms_high']} ms" if est else "") or \
                (r.get("unreliable_reason") or "")
            out.append(f"| {r['device']} | {r['target']} | {r['threads']} | {r['status']} | {f(r['p50_ms'])} | "
                       f"{pct(r.get('p50_spread_pct'))} | {f(r['p90_ms'])} | {f(r['accuracy'], 4)} | "
                       f"{f(r.get('reliable'))} | {note} |")
        if b.get("omitted"):
            out.append(f"\n{len(b['omitted'])} artifact/device pairs that cannot run were left out.")
        out.append("\nFastest artifact within the accuracy budget, per device:\n")
        for x in b.get("best", []):
            out.append(f"- {x['device']}: {x.get('target')} at {x.get('threads')} thread(s), p50 {f(x.get('p50_ms'))} ms "
                       f"({x.get('basis')}; {x.get('why')})")
    return "\n".join(out) + "\n"


def headline() -> str:
    d = load("headline.json")
    out = ["## Every format, 1 and 2 threads, against the compute floor; two consecutive runs\n"]
    if d is None:
        return out[0] + missing("headline.json", "python benchmarks/headline.py RUN_DIR")
    info = d["info"]
    out.append(source("headline.json", "benchmarks/headline.py", info) + "\n")
    out.append(f"Single-thread SGEMM peak {info['sgemm_1thread_gflops']} GFLOP/s. Floor = the artifact's counted "
               "FLOPs / (peak x threads). Protocol: " + str(info.get("protocol", "one block per row")) + ".\n")
    out.append("| target | device | threads | MFLOP | p50 ms | p90 ms | accuracy | x floor | spread | reliable | "
               "2nd run p50 | diff |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    agree = n = 0
    for r in d["rows"]:
        diff = r["repeat_diff_pct"][0] if r["repeat_diff_pct"] else None
        rel = r.get("reliable")
        rel2 = (r.get("reliable_repeat") or [None])[0]
        n += 1
        agree += diff is not None and diff <= 5.0
        out.append(f"| {r['target']} | {r['device']} | {r['threads']} | {f(r.get('model_mflop'), 1)} | {f(r['p50_ms'])} | "
                   f"{f(r['p90_ms'])} | {f(r['accuracy'], 4)} | {f(r['x_floor'])} | {pct(r.get('p50_spread_pct'))} | "
                   f"{f(rel)}{'' if rel2 is None else '/' + f(rel2)} | "
                   f"{f(r['p50_ms_repeat'][0]) if r['p50_ms_repeat'] else '-'} | {pct(diff)} |")
    flagged = [r for r in d["rows"] if (r["repeat_diff_pct"] and r["repeat_diff_pct"][0] > 5.0)]
    marked = [r for r in flagged if r.get("reliable") is False or False in (r.get("reliable_repeat") or [])]
    probe = [r for r in flagged if r not in marked and _probe_moved(r)]
    one = [r for r in d["rows"] if r["threads"] == 1]
    one_ok = [r for r in one if r["repeat_diff_pct"] and r["repeat_diff_pct"][0] <= 5.0]
    out.append(f"\n{agree} of {n} rows repeat within 5% on p50 ({len(one_ok)} of {len(one)} one-thread rows). Of the "
               f"{len(flagged)} that do not, {len(marked)} were marked unreliable by the protocol in one of the two runs, "
               f"and {len(probe)} more were measured while the machine's speed probe differed by more than 3% between "
               f"the runs; {len(flagged) - len(marked) - len(probe)} are unexplained.")
    return "\n".join(out) + "\n"


def _probe_moved(r: dict[str, Any]) -> bool:
    a, b = r.get("speed_probe_ms"), (r.get("speed_probe_ms_repeat") or [None])[0]
    return bool(a and b and abs(b / a - 1) > 0.03)


def _vs(drop: float) -> str:
    """A drop (points below Keras) as a signed difference vs Keras: -0.71, or 0.00 for none."""
    return "0.00" if abs(drop) < 0.005 else f"{-drop:+.2f}"


def openvino_vs_ort() -> str:
    d = load("openvino_vs_ort.json")
    out = ["## OpenVINO IR against ONNX Runtime: the same float and int8 models on this CPU\n"]
    if d is None:
        return out[0] + missing("openvino_vs_ort.json", "python benchmarks/openvino_vs_ort.py RUN_DIR")
    out.append(source("openvino_vs_ort.json", "benchmarks/openvino_vs_ort.py", d) + "\n")
    m = d["model"]
    out.append(f"The run: {m['backbone']} {m['alpha']}/{m['input_size']}, {m['strategy']}. `openvino:int8` is converted "
               "from the very QDQ model that `onnx:int8` is (the same calibration and weight rounding): the rows differ "
               "only in the runtime. Accuracy from the export's verification (validation chooses; test is reported "
               "only); points are against the Keras model. Compute layers in int8: what each runtime really runs "
               "on this CPU (OpenVINO's compiled model; ONNX Runtime's optimized graph).\n")
    out.append("| target | val top-1 (pts vs Keras) | test top-1 (pts vs Keras) | size MB | compute layers in int8 | "
               "kernels |")
    out.append("|---|---|---|---|---|---|")
    for r in d["exports"]:
        g, o = r.get("openvino_graph") or {}, r.get("onnxruntime_graph") or {}
        if g:
            by = g["compute_layers_by_precision"]
            q = sum(v for k, v in by.items() if k in ("i8", "u8"))
            layers = f"{q} of {sum(by.values())}"
            kern = ", ".join(f"{k} x{v}" for k, v in sorted(g["kernels"].items(), key=lambda kv: -kv[1])[:3])
        elif o:
            layers, kern = f"{o['integer']} of {o['integer'] + o['float']}", "-"
        else:
            layers, kern = "0 (float model)", "-"
        test = f"{r['test_top1']:.4f} ({_vs(r['test_drop_points'])})" if r.get("test_top1") is not None else "-"
        out.append(f"| {r['target']} | {r['val_top1']:.4f} ({_vs(r['val_drop_points'])}) | {test} | "
                   f"{r['size_bytes'] / 1e6:.2f} | {layers} | {kern} |")
    out.append("")
    n = len(d["bench"])
    out.append(f"Latency (`edgetl bench`, devices host-onnx and host-openvino), the whole table measured {n} times one "
               "after the other; p50 of each run, and whether the protocol called it reliable:\n")
    out.append("| target | device | threads | " + " | ".join(f"run {i + 1} p50 ms (reliable)" for i in range(n))
               + " | int8 / fp32 p50, run 1 |")
    out.append("|---|---|---|" + "---|" * n + "---|")
    first = {(r["target"], r["threads"]): r for r in d["bench"][0] if r["status"] == "ok"}
    for r in d["bench"][0]:
        if r["status"] != "ok":
            continue
        again = [next((x for x in rep if (x["target"], x["threads"]) == (r["target"], r["threads"])), {})
                 for rep in d["bench"]]
        cells = " | ".join(f"{f(x.get('p50_ms'), 3)} ({x.get('reliable')})" for x in again)
        fp = first.get((r["target"].replace("int8", "fp32"), r["threads"]))
        ratio = f"{r['p50_ms'] / fp['p50_ms']:.2f}" if r["target"].endswith("int8") and fp else "-"
        out.append(f"| {r['target']} | {r['device']} | {r['threads']} | {cells} | {ratio} |")
    rows = [r for rep in d["bench"] for r in rep if r["status"] == "ok"]
    why: dict[str, int] = {}
    for r in rows:
        for part in (r.get("unreliable_reason") or "").split("; "):
            if part:
                key = re.sub(r"[+-]?\d+(\.\d+)?%", "N%", part.split(" (")[0].split(" while")[0])
                key = re.sub(r"only \d+ of", "only K of", key)
                why[key] = why.get(key, 0) + 1
    out.append(f"\n{sum(r.get('reliable') is False for r in rows)} of {len(rows)} rows were marked unreliable by the "
               "protocol; its reasons, with how many rows gave each: "
               + "; ".join(f"{k} ({v})" for k, v in sorted(why.items(), key=lambda kv: -kv[1])) + ".")
    out.append(f"\nOpenVINO's CPU: {d['exports'][-1].get('openvino_graph', {}).get('cpu', '?')}, capabilities "
               f"{', '.join(d['exports'][-1].get('openvino_graph', {}).get('cpu_capabilities', []))}. edgetl pins "
               "OpenVINO's inference precision to f32: its default on a CPU with BF16 is bf16 for a float IR.")
    return "\n".join(out) + "\n"


def runtime_overhead() -> str:
    d = load("runtime_overhead.json")
    out = ["## Runtime overhead: `classify()` against the bare interpreter\n"]
    if d is None:
        return out[0] + missing("runtime_overhead.json", "python benchmarks/runtime_overhead.py MODELS --jpeg PHOTO")
    out.append(source("runtime_overhead.json", "benchmarks/runtime_overhead.py", d) + "\n")
    out.append(f"One thread, {d['rounds']} interleaved rounds of {d['runs_per_round']} calls per loop; the JPEG is "
               f"`{d['jpeg']}`. `classify(array)` takes a decoded uint8 array at the model's size; `classify(jpeg)` "
               "decodes and resizes too; `decode` is that decoding alone.\n")
    out.append("| model | backend | input | bare p50 ms | classify(array) ms | ratio | classify(jpeg) ms | decode ms | "
               "cold start s | TensorFlow imported |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in d["rows"]:
        out.append(f"| {r['model']} | {r['backend']} | {r['input_dtype']} | {r['bare_p50_ms']:.3f} | "
                   f"{r['classify_array_p50_ms']:.3f} | **{r['ratio_array']:.3f}** | {r['classify_jpeg_p50_ms']:.3f} | "
                   f"{r['decode_p50_ms']:.3f} | {r['cold_start_s_median']:.3f} | {r['tensorflow_imported']} |")
    return "\n".join(out) + "\n"


def runtime_only() -> str:
    d = load("runtime_only.json")
    out = ["## A runtime-only environment (no TensorFlow)\n"]
    if d is None:
        return out[0] + missing("runtime_only.json", "python benchmarks/runtime_only.py RUN_DIR")
    out.append(source("runtime_only.json", "benchmarks/runtime_only.py", d) + "\n")
    out.append(f"A fresh virtual environment with `{d['install']}` only (TensorFlow importable there: "
               f"{d['tensorflow_importable']}), `edgetl predict --json` on every validation photo:\n")
    out.append("| artifact | images | same top-1 as Keras | same top-1 as the full environment |")
    out.append("|---|---|---|---|")
    for r in d["rows"]:
        out.append(f"| {r['artifact']} | {r['images']} | {r['agreement_with_keras']:.2%} | "
                   f"{r['agreement_with_full_environment']:.2%} |")
    return "\n".join(out) + "\n"


def cached_features() -> str:
    d = load("cached_features.json")
    out = ["## Cached features vs a plain frozen-backbone fit\n"]
    if d is None:
        return out[0] + missing("cached_features.json", "python benchmarks/cached_features.py")
    out.append(f"Raw: `results/cached_features.json` (written by `benchmarks/cached_features.py` on {d['date']}; "
               f"{d['machine']}, TensorFlow {d['tensorflow']}).\n")
    out.append(f"Same head, same frozen backbone, {d['images']['train']} train / {d['images']['val']} validation "
               f"images; target = {d['target_val_accuracy']} validation accuracy.\n")
    out.append("| run | epochs | seconds per epoch (mean) | seconds to target | best val accuracy |")
    out.append("|---|---|---|---|---|")
    for k in ("plain", "cached_cold", "cached_warm"):
        ep = d["epochs"].get(k, [])
        times = [e[0] for e in ep]
        per = (times[-1] / len(times)) if times else None
        out.append(f"| {k} | {len(ep)} | {f(per, 1)} | {f(d['seconds_to_target'][k], 1)} | "
                   f"{f(d['best_val_accuracy'][k], 4)} |")
    out.append(f"\nSpeed-up to the target: **{d['speedup_cold']}x cold** (the cached run includes its one backbone "
               f"pass), **{d['speedup_warm']}x warm** (features already on disk).")
    return "\n".join(out) + "\n"


def gpu() -> str:
    d = load("gpu/gpu_bench.json")
    out = ["## GPU: ONNX Runtime on a lent NVIDIA GPU\n"]
    if d is None:
        return out[0] + missing("gpu/gpu_bench.json", "benchmarks/gpu_bench.sh on the GPU machine")
    out.append(f"Raw: `results/gpu/gpu_bench.json` (written by `benchmarks/gpu_bench.py` on {d['date']}; "
               f"{d.get('gpu', '?')}, driver {d.get('driver', '?')}; onnxruntime-gpu {d.get('onnxruntime', '?')}; "
               f"providers available: {', '.join(d.get('available_providers', []))}).\n")
    out.append("| device | artifact | threads | batch | status | p50 ms | repetition p50s | throughput img/s | providers "
               "registered | graph nodes per provider | top-1 |")
    out.append("|---|---|---|---|---|---|---|---|---|---|---|")
    failed = {}
    for r in d["rows"]:
        if r["status"] != "ok":
            failed.setdefault(r["device"], []).append(r)
            continue
        nodes = ", ".join(f"{k.replace('ExecutionProvider', '')} {v}" for k, v in (r.get("node_providers") or {}).items())
        out.append(f"| {r['device']} | {r['target']} | {r['threads']} | {r.get('batch', 1)} | {r['status']} | "
                   f"{f(r.get('p50_ms'))} | {'/'.join(f'{x:.2f}' for x in r.get('p50_reps_ms') or [])}"
                   f"{'' if r.get('reliable') else ' (unreliable)'} | {f(r.get('throughput_ips'), 0)} | "
                   f"{', '.join(x.replace('ExecutionProvider', '') for x in r.get('providers') or [])} | "
                   f"{nodes or '-'} | {f(r.get('accuracy'), 4)} |")
    for dev, rs in failed.items():
        out.append(f"\n{dev}: {len(rs)} row(s) {rs[0]['status']} ({', '.join(r['target'] for r in rs)}): "
                   f"{rs[0].get('reason', '')}")
    return "\n".join(out) + "\n"


def _estimator_validation(d: dict[str, Any], lo: dict[str, Any], ls: dict[str, Any]) -> list[str]:
    """The validation table, the band, and the table per basis (how much a profile says about its CPU)."""
    out: list[str] = []
    tw = d.get("leave_one_twin_group_out")
    out.append("| validation | rows | groups | median error | 80th percentile | printed range held | band chosen on "
               "the other half: held | estimates below the published figure |")
    out.append("|---|---|---|---|---|---|---|---|")
    for name, v in (("leave-one-device-out", lo), ("leave-one-twin-group-out (a device with its near-twins)", tw),
                    ("leave-one-source-out", ls)):
        if not v:
            continue
        oof = v.get("band_out_of_fold", {}).get("coverage")
        below = v.get("below_published")
        out.append(f"| {name} | {v['rows']} | {v['groups']} | **{v['median_ape']:.1%}** | {v['p80_ape']:.1%} | "
                   f"**{v['coverage_80']:.1%}** | {'-' if oof is None else f'{oof:.1%}'} | "
                   f"{'-' if below is None else f'{below:.0%}'} |")
    out.append(f"| in-sample (the shipped fit, for comparison) | {lo['rows']} | - | {d['in_sample']['median_ape']:.1%} | - "
               "| - | - | - |\n")
    out.append(f"The printed range is the {lo['band']} for a core type with anchors (the narrowest band, from "
               "10th..90th down, that held 80% of each held-out device's anchors when drawn from the other devices' "
               f"residuals; the plain 10th..90th band held {lo['coverage_plain_10_90']:.1%}). A device's near-twins "
               "(the same core type at the same core count or from the same vendor) stay in the first fit; the "
               "second holds them out together, which is what a board of a core type without anchors faces, and "
               "its band is the one such a board prints. Leaving a whole source out removes core types and runtimes "
               "the others lack. \"Band chosen on the other half\": the band picked on half of the groups, its "
               "coverage on the other half.\n")
    if d.get("bases"):
        out.append("A profile that says less about its CPU, each held-out device described that way (near-twins "
                   "held out):\n")
        out.append("| the profile gives | median error | its own printed range | held | below published |")
        out.append("|---|---|---|---|---|")
        names = {"core": "a core type without anchors, cores, clock", "peak": "peak_gflops_fp32, cores, clock",
                 "clock": "cores and clock only", "peak-only": "peak_gflops_fp32 only"}
        for b, v in d["bases"].items():
            out.append(f"| {names.get(b, b)} | {v['median_ape']:.1%} | {v['band']} | {v['coverage_80']:.1%} | "
                       f"{v['below_published']:.0%} |")
        out.append("")
    return out


def estimator() -> str:
    d = load("estimator_cv.json")
    out = ["## Latency estimator: published figures it was not fitted on, and a board's own measurements\n"]
    if d is None:
        return out[0] + missing("estimator_cv.json", "python benchmarks/estimator_cv.py")
    a, lo, ls = d["anchors"], d["leave_one_device_out"], d["leave_one_source_out"]
    out.append(f"Raw: `results/estimator_cv.json` (written by `benchmarks/estimator_cv.py` on {d['date']}; "
               f"{_commit(d)}; the anchors are `edgetl/analysis/anchors.csv`, written by "
               "`benchmarks/collect_anchors.py` from the publications, each row with its source).\n")
    out.append(f"{a['cpu_rows']} CPU anchors on {a['devices']} devices from {len(a['sources'])} sources "
               f"({', '.join(a['sources'])}), thread counts {', '.join(map(str, a['thread_counts']))}; "
               f"{a['edgetpu_rows']} Edge TPU anchors.\n")
    out += _estimator_validation(d, lo, ls)
    out.append("| held-out device | rows | threads | runtimes | median error | median log(pred/published) |")
    out.append("|---|---|---|---|---|---|")
    for g in sorted(lo["per_group"], key=lambda g: g["group"]):
        out.append(f"| {g['group']} | {g['rows']} | {', '.join(map(str, g['threads']))} | {', '.join(g['runtimes'])} "
                   f"| {g['median_ape']:.1%} | {g['median_log_ratio']:+.2f} |")
    tpu = d["edgetpu"]
    ft = tpu["fit"]
    forms = tpu.get("forms_leave_one_model_out_median") or {}
    out.append(f"\nEdge TPU, {ft['rows']} anchors (Coral's table and the shared list), left out one model at a time "
               f"(both boards): median error **{ft['lomo_median_ape']:.1%}**"
               + (f", {ft['lomo_below_published']:.0%} of the estimates below the published figure"
                  if "lomo_below_published" in ft else "")
               + f"; fit t0 {ft['t0_ms']} ms, {ft['ms_per_gmac']} ms/GMAC"
               + (f", {ft['ms_per_op']} ms per layer" if "ms_per_op" in ft else "")
               + f", streamed parameters {ft['ms_per_streamed_mb_usb']} ms/MB over USB and "
               f"{ft['ms_per_streamed_mb_pcie']} ms/MB on the Dev Board"
               + ("; the form (compute and streaming overlapped) was chosen among "
                  + ", ".join(f"{k} {v:.1%}" for k, v in forms.items()) + " by this same leave-one-model-out error, "
                  "so the shipped figure is a little optimistic" if forms else "") + ". USB 2 and a slow host behind "
               "a USB link have no anchors: they enter as stated priors (edgetl/analysis/edgetpu_cost.py) with a "
               "wider range.\n")
    out.append("| left-out model | board | published ms | predicted ms | error |")
    out.append("|---|---|---|---|---|")
    for r in tpu["leave_one_model_out"]:
        out.append(f"| {r['model']} | {r['device']} | {r['published_ms']} | {r['predicted_ms']} | {r['ape']:.1%} |")
    out.append("")
    own = load("estimator_own.json")
    if own is None:
        out.append(missing("estimator_own.json", "python benchmarks/estimator_own.py"))
        return "\n".join(out) + "\n"
    out.append(f"Own measurements: raw `results/estimator_own.json` (written by `benchmarks/estimator_own.py` on "
               f"{own['date']}; {own['machine']['processor']}, {own['machine']['cpus']} CPUs). 5 models (MobileNetV2 "
               "0.35/0.75/1.0, EfficientNet-Lite0, ResNet50), fp32 and int8 TFLite, 1 and 2 threads, timed with "
               "`edgetl bench` in whole sessions, then `edgetl calibrate` (per precision: a factor for the dense part, "
               "the memory-bound part and the per-op overhead of the published model, and the thread scaling); "
               "each model left out in turn.\n")
    out.append("| calibrated on | rows | reliable rows (noise check) | leave-one-model-out median error | "
               "published fit alone |")
    out.append("|---|---|---|---|---|")
    for r in own["runs"]:
        out.append(f"| session {r['run']} | {len(r['measurements'])} | "
                   f"{sum(1 for m in r['measurements'] if m['reliable'])} | "
                   f"{r['calibration']['leave_one_model_out_median_ape']:.1%} | {r['published_fit_median_ape']:.1%} |")
    pl = own["pooled"]
    out.append(f"| sessions 1-{pl['sessions']} together (mean p50) | {pl['calibration']['measurements']} | - | "
               f"**{pl['calibration']['leave_one_model_out_median_ape']:.1%}** | - |\n")
    out.append("Most rows fail the noise check on this VM (its speed probe moves while they are timed), and "
               "the sessions differ by as much: a calibration is as good as the measurements it gets. Per model, "
               "the sessions together:\n")
    out.append("| left-out model | threads | precision | measured ms | predicted ms | error |")
    out.append("|---|---|---|---|---|---|")
    names = {k: v[0].rsplit("_", 1)[0] for k, v in pl.get("models", {}).items()}
    for r in pl["leave_one_model_out"]:
        out.append(f"| {names.get(r['model'], r['model'])} | {r['threads']} | {r['precision']} | {r['measured_ms']:.2f} | "
                   f"{r['predicted_ms']:.2f} | {r['ape']:.1%} |")
    return "\n".join(out) + "\n"


def lite_import() -> str:
    d = load("efficientnet_lite0_import.json")
    out = ["## EfficientNet-Lite0 checkpoint import\n"]
    if d is None:
        return out[0] + missing("efficientnet_lite0_import.json", "python benchmarks/efficientnet_lite_import.py")
    out.append(f"Raw: `results/efficientnet_lite0_import.json` (written by `benchmarks/efficientnet_lite_import.py` on "
               f"{d['date']}).\n")
    out.append(f"edgetl's Keras EfficientNet-Lite{d['variant']} with the imported checkpoint against the PyTorch "
               f"reference on {d['images']} flower photos: max |logit difference| {d['max_abs_logit_diff']:.2e}, mean "
               f"{d['mean_abs_logit_diff']:.2e}, top-1 agreement {d['top1_agreement']:.1%} (logits span "
               f"{d['logit_range'][0]:.1f}..{d['logit_range'][1]:.1f}).")
    return "\n".join(out) + "\n"


def fuzz() -> str:
    d = load("fuzz_full.json")
    out = ["## Fuzzing\n"]
    if d is None:
        return out[0] + missing("fuzz_full.json", "python benchmarks/fuzz_all.py --cases N")
    out.append(f"Raw: `results/fuzz_full.json` (written by `benchmarks/fuzz_all.py` on {d['date']}; "
               f"{d['cases_per_loader']} cases per loader).\n")
    pp = d["pure_python_loaders"]
    out.append(f"- Pure-Python loaders ({', '.join(pp['loaders'])}, plus the structured attacks): pytest exit code "
               f"{pp['pytest_rc']}, `{pp['summary']}`, {pp['seconds']} s.")
    for k in ("native_tflite", "native_onnx", "native_keras"):
        r = d.get(k) or {}
        if "crashed" in r:
            out.append(f"- {k.removeprefix('native_')}: the child process CRASHED (exit {r['crashed']}) at {r.get('at')}.")
        else:
            out.append(f"- {k.removeprefix('native_')} through its native loader in a child process: "
                       + ", ".join(f"{kk} {vv}" for kk, vv in r.items() if kk != "seconds") + f" ({r.get('seconds')} s).")
    return "\n".join(out) + "\n"


def loopback() -> str:
    d = load("loopback_ssh.json")
    out = ["## The same artifacts on this host and over SSH to 127.0.0.1\n"]
    if d is None:
        return out[0] + missing("loopback_ssh.json", "python benchmarks/loopback_ssh.py RUN_DIR")
    out.append(source("loopback_ssh.json", "benchmarks/loopback_ssh.py", d) + "\n")
    out.append("| target | threads | host-cpu p50 ms | loopback-ssh p50 ms | host-cpu top-1 | loopback-ssh top-1 |")
    out.append("|---|---|---|---|---|---|")
    by = {(r["device"], r["target"], r["threads"]): r for r in d["rows"] if r["status"] == "ok"}
    for (dev, tgt, th), r in sorted(by.items()):
        if dev != "host-cpu":
            continue
        o = by.get(("loopback-ssh", tgt, th), {})
        out.append(f"| {tgt} | {th} | {f(r['p50_ms'])} | {f(o.get('p50_ms'))} | {f(r['accuracy'], 4)} | "
                   f"{f(o.get('accuracy'), 4)} |")
    return "\n".join(out) + "\n"


def selective() -> str:
    d = load("selective.json")
    out = ["## Selective quantization: int8 within an accuracy budget\n"]
    if d is None:
        return out[0] + missing("selective.json", "python benchmarks/selective.py --shared ../shared")
    out.append(source("selective.json", "benchmarks/selective.py", d) + "\n")
    out.append(f"Budget {d['budget_points']} points; {d['split_note']}. Top-1 accuracy vs the float model, in points "
               "(negative: the int8 model is worse), validation / test; dis.: the share of test photos whose top-1 answer differs from the float "
               "model's. Nearest: each int8 weight rounded to its nearest step (`round_weights=false`); default: "
               "the plain export, activation-aware weight rounding. Latency: one thread, the default and the "
               "selective artifact timed side by side in interleaved rounds. z: how many standard errors closer "
               "to the float model (mean per-photo KL divergence, validation, paired) the kept candidate is than "
               "the default; from export stage 9 on, a candidate is kept only at z >= 2.\n")
    out.append("| backbone | fine-tune lr | stage | target | float val / test top-1 | nearest int8: vs float (dis.) | "
               "default int8: vs float (dis.) | selective: vs float (dis.) | what selective changed | latency vs default |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")

    def drops(x: dict[str, Any] | None) -> str:
        if not x:
            return "-"
        dis = f" ({x['test_disagreement_points']:.2f}%)" if "test_disagreement_points" in x else ""
        return f"{-x['val_drop'] + 0.0:+.2f} / {-x['test_drop'] + 0.0:+.2f}{dis}"

    for r in d["rows"]:
        s_ = r["selective"]
        rounded = "weight rounding" in {t.get("calibration") for t in s_.get("tried") or []} or \
            r["plain"].get("weight_rounding")
        over = ("; over the budget on validation, closer than the default" if s_.get("within_budget") is False
                or "still over the budget" in (s_.get("reason") or "") else "")
        tried = s_.get("tried") or []
        kept = [t for t in tried if "closer_z" in t and (
            t.get("calibration") == s_["calibration"] if s_.get("calibration")
            else t.get("float_layers") == len(s_.get("float_layers") or []))]
        z = f", z {kept[-1]['closer_z']:.1f}" if s_.get("chosen") and kept else ""
        why = ("stopped at the latency limit" if (s_.get("reason") or "").startswith("stopped") else
               "none both within the budget and measurably closer" if any("closer_z" in t for t in tried) else
               "none met the budget")
        what = (("weight rounding alone (no layer in float)" if s_["calibration"] == "weight rounding" else
                 f"{s_['calibration']} calibration") + z + over if s_.get("calibration") else
                f"{len(s_['float_layers'])} layer(s) in float" + (", weights re-rounded" if rounded else "") + z
                if s_.get("float_layers") else
                "nothing: the default int8 was within the budget on the validation split" if not s_.get("chosen")
                and not tried else
                f"nothing: {len(tried)} candidate(s) tried, {why}" if not s_.get("chosen") else "-")
        mark = " (r)" if r.get("rebuilt_from") else ""
        out.append(f"| {r['backbone']} | {r['fine_tune_lr']:g}{mark} | {r.get('export_stage_version', '-')} | "
                   f"{r['target']} | {r['float_val_top1']:.4f} / "
                   f"{r['float_test_top1']:.4f} | {drops(r.get('nearest'))} | {drops(r['plain'])} | {drops(s_)} | "
                   f"{what} | {r['latency_ms_1thread']['ratio']:.2f}x ({r['latency_ms_1thread']['plain']:.2f} -> "
                   f"{r['latency_ms_1thread']['selective']:.2f} ms) |")
    if any(r.get("rebuilt_from") for r in d["rows"]):
        out.append("\n(r): the row was rebuilt by `selective.py --from-stage-version N` from the reports of an "
                   "earlier invocation's export stages, its pair timed again.")
    if any(not r["plain"].get("weight_rounding") for r in d["rows"]):
        out.append("\nRows without a nearest column come from before weight rounding was the default: their "
                   "default int8 is nearest rounding.")
    return "\n".join(out) + "\n"


def onnx_calibration_memory() -> str:
    d = load("onnx_calibration_memory.json")
    out = ["## ONNX int8 calibration memory\n"]
    if d is None:
        return out[0] + missing("onnx_calibration_memory.json",
                                "python benchmarks/onnx_calibration_memory.py RUN_DIR")
    out.append(source("onnx_calibration_memory.json", "benchmarks/onnx_calibration_memory.py", d) + "\n")
    out.append(f"{d['model']} at {d['input_size']} px, ONNX Runtime static QDQ calibration; each row a fresh "
               "process; peak resident memory of the whole process (before calibration: the model and the decoded "
               "images).\n")
    out.append("| method | images | fed in chunks of | peak memory | before calibration | seconds |")
    out.append("|---|---|---|---|---|---|")
    for r in d["rows"]:
        out.append(f"| {r['method']} | {r['images']} | {r['chunk']}{' (edgetl)' if r['chunked'] else ''} | "
                   f"{r['peak_rss_gib']:.2f} GiB | {r['peak_rss_gib_before']:.2f} GiB | {r['seconds']:.0f} |")
    return "\n".join(out) + "\n"


def _points(a: Any, b: Any) -> str:
    return "-" if a is None or b is None else f"{100 * (a - b):+.2f}"


def quant_matrix() -> str:
    d = load("quant_matrix.json")
    out = ["## Quantization matrix: every backbone, every quantized target, default and nearest rounding\n"]
    if d is None:
        return out[0] + missing("quant_matrix.json", "python benchmarks/quant_matrix.py --rows ROW,...")
    out.append(source("quant_matrix.json", "benchmarks/quant_matrix.py", d) + "\n")
    out.append("Each row a run trained with a seeded split; each artifact exported with default options "
               "(weight rounding chosen per model on calibration images held back from fitting it) and again "
               "with nearest rounding (`--set round_weights=false`). Points are top-1 against the float TFLite "
               "model of the same run: on the validation split (what edgetl chooses on) and on the test split "
               "(reported only, never chosen on). One test image is 100/n points. Verify ms/input is the export's "
               "own verification loop (the runtime's default threads, other work on the machine beside it): a "
               "guide to relative cost, not a latency benchmark.\n")
    out.append("| row | strategy | float top-1 val / test (n test) | target | default: val / test points | "
               "rounding kept | nearest: val / test points | size MB | verify ms/input | commit |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in d["rows"]:
        fl = r["float"]
        for a, b in zip(r["default"], r["nearest"]):
            out.append(f"| {r['row']} | {r['strategy']} | {f(fl['validation_top1'], 4)} / {f(fl['test_top1'], 4)} "
                       f"({fl['test_images']}) | {a['target']} | "
                       f"{_points(a['validation_top1'], fl['validation_top1'])} / "
                       f"{_points(a['test_top1'], fl['test_top1'])} | {a.get('rounding') or '-'} | "
                       f"{_points(b['validation_top1'], fl['validation_top1'])} / "
                       f"{_points(b['test_top1'], fl['test_top1'])} | "
                       f"{f((a.get('size_bytes') or 0) / 1e6)} | {f(a.get('verify_ms_per_image'))} | "
                       f"{r.get('commit', '-')}{'+' if r.get('edgetl_modified_since_commit') else ''} |")
    refused = [(r["row"], x) for r in d["rows"] for x in r.get("refused") or []]
    if refused:
        out.append("\nRefused (the converter's or the runtime's own message):\n")
        out += [f"- {row} {x['target']}: {x['error'][:300]}" for row, x in refused]
    out.append("\nA `+` after the commit: edgetl had changes not yet committed when the row was measured; `-`: the "
               "row predates the script's recording of its commit and of the rounding kept. Text models' weights are "
               "not re-rounded (their rounding column is nearest rounding).")
    return "\n".join(out) + "\n"


def _share(v: Any) -> str:
    return "" if v is None else f"{100 * v:.1f}%"


def clients() -> str:
    d = load("clients.json")
    out = ["## In the clients apps use: MediaPipe Tasks, onnx.checker, OpenVINO\n"]
    if d is None:
        return out[0] + missing("clients.json", "python benchmarks/clients.py --run image=RUN --run text=RUN")
    out.append(source("clients.json", "benchmarks/clients.py", d) + " Clients: "
               + ", ".join(f"{k} {v}" for k, v in sorted(d["client_versions"].items())) + ".\n")
    out.append("Each artifact loaded by the client itself with default options (OpenVINO: f32 precision hint), on "
               "the run's validation items. Agreement: the same top-1 as edgetl's runtime given the same input "
               "(required: 99%); own resize: MediaPipe given the photos, resized by its own pipeline (reported).\n")
    out.append("| run | target | client | status | items | agreement | own resize | the client's words |")
    out.append("|---|---|---|---|---|---|---|---|")
    for run in d["runs"]:
        for a in run["artifacts"]:
            for c in a["clients"]:
                words = str(c.get("detail") or "").replace("|", "/")[:160] if c["status"] != "ok" else ""
                out.append(f"| {run['name']} ({run['kind']}) | {a['target']} | {c['client']} | {c['status']} | "
                           f"{c.get('items') or ''} | {_share(c.get('agreement'))} | {_share(c.get('own_resize_agreement'))}"
                           f" | {words} |")
    return "\n".join(out) + "\n"


ARM64_RAW = ("arm64_box.json", "arm64_box_text.json")  # the image main job's run, the text main job's run


def arm64_box() -> str:
    out = ["## arm64 in a box: the runtime on an emulated Debian bookworm arm64, against x86\n"]
    docs = [(raw, load(raw)) for raw in ARM64_RAW]
    if not any(d for _, d in docs):
        return out[0] + missing("arm64_box.json", "python benchmarks/arm64_check.py RUN --out results/arm64_box.json")
    out.append("Each artifact over SSH with `edgetl bench` on a seeded subset of its run's validation split, scores "
               "compared with this x86 machine's on the same decoded inputs; `selftest` is `edgetl predict MODEL "
               "--selftest` inside the box. Latency is emulated and not shown. Score differences are absolute "
               "differences of class probabilities; \"from float\" is the mean difference from the same run's float "
               "artifact on the same machine (arm64 / x86). The artifacts checked here were exported before export "
               "stage 16: their golden items were the first validation items, with one tight tolerance for every target; "
               "stage 16 takes the clearest answers and widens the tolerance where int8 kernels differ by CPU, "
               "because of the selftest failures below.\n")
    for raw, d in docs:
        out.append(_arm64_doc(raw, d) if d else missing(raw, f"python benchmarks/arm64_check.py RUN --out "
                                                             f"results/{raw}"))
    return "\n".join(out) + "\n"


def _arm64_doc(raw: str, d: dict[str, Any]) -> str:
    box, fp = d.get("box") or {}, d.get("box_fingerprint") or {}
    out = [source(raw, "benchmarks/arm64_check.py", d) + f" Box: {box.get('box', '?')} (machine, Python, numpy, "
           f"onnxruntime, providers), QEMU_CPU={box.get('cpu', '?')}, fingerprint machine {fp.get('machine', '?')}. "
           f"Cold build: rootfs {f(box.get('cold_rootfs_s'), 0)} s, edgetl[runtime] and its wheels "
           f"{f(box.get('cold_install_s'), 0)} s ({box.get('rootfs_mb', '?')} MB). {d['items_per_artifact']} items per "
           f"artifact; the check took {f(d.get('wall_s'), 0)} s.\n"]
    ok = [r for r in d["rows"] if r.get("items")]
    n, same_n = sum(r["items"] for r in ok), sum(r["labels_equal"] for r in ok)
    if n:
        out.append(f"Labels equal to x86 on {same_n} of {n} items ({same_n / n:.2%}) over {len(ok)} artifacts.\n")
    out.append("| run | target | status | selftest | labels equal to x86 | largest score difference | mean | "
               "from float, arm64 / x86 | accuracy arm64 | accuracy x86 |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for r in d["rows"]:
        st = r.get("selftest") or {}
        same = f"{r['labels_equal']}/{r['items']}" if r.get("items") else "-"
        diff = "-" if r.get("max_score_diff") is None else f"{r['max_score_diff']:.2e}"
        mean = "-" if r.get("mean_score_diff") is None else f"{r['mean_score_diff']:.2e}"
        gap = (f"{r['float_gap_arm64']:.2e} / {r['float_gap_x86']:.2e}" if r.get("float_gap_arm64") is not None
               else "-")
        selftest = "ok" if st.get("ok") else f"failed: {st.get('said', '')[:160]}" if st else "-"
        out.append(f"| {r['run']} | {r['target']} | {r['status']} | {selftest} | {same} | {diff} | {mean} | {gap} | "
                   f"{f(r.get('accuracy_arm64'), 4)} | {f(r.get('accuracy_x86'), 4)} |")
    graphs = d.get("onnx_runtime_graphs") or {}
    if graphs:
        out.append("\nThe graph ONNX Runtime's CPU provider runs (its optimized model), compute nodes on integer "
                   "kernels / in float:\n")
        out.append("| artifact | x86 integer / float | arm64 integer / float |")
        out.append("|---|---|---|")
        for k, g in graphs.items():
            xs, a_ = g.get("x86_split") or {}, g.get("arm64_split") or {}
            out.append(f"| {k} | {xs.get('integer', '-')} / {xs.get('float', '-')} | "
                       f"{a_.get('integer', '-')} / {a_.get('float', '-')} |")
    wh = d.get("armhf_wheels_cp311") or {}
    if wh:
        out.append("\n32-bit Raspberry Pi OS (linux_armv7l, CPython 3.11) wheels on PyPI that day: "
                   + ", ".join(f"{k} {'yes' if v else 'none'}" for k, v in wh.items()) + ".\n")
    return "\n".join(out) + "\n"


def ray_rows(d: dict[str, Any]) -> list[str]:
    rows = ["| run | workers x CPUs | features s | vs local | whole train stage s | vs local | val / test top-1 | "
            "weights vs local |", "|---|---|---|---|---|---|---|---|"]
    for r in d["runs"]:
        st = r.get("ray_stats") or {}
        shape = f"{st['workers']} x {st['worker_cpus']}" if st else "TensorFlow, all cores"
        diff = r.get("max_weight_diff_vs_local")
        rows.append(f"| {r['name']} | {shape} | {r['timings_s']['features_s']:.1f} | "
                    f"{rel(r.get('features_overhead_vs_local'))} | {r['wall_s']:.1f} | {rel(r.get('wall_overhead_vs_local'))} | "
                    f"{r['val_top1']:.4f} / {f(r['test_top1'], 4)} | {'-' if diff is None else f'max abs diff {diff:.1e}'} |")
    return rows


def ray_features() -> str:
    d = load("ray_features.json")
    out = ["## Feature extraction on Ray: local cluster against the local path\n"]
    if d is None:
        return out[0] + missing("ray_features.json", "python benchmarks/ray_features.py --shared ../shared")
    out.append(source("ray_features.json", "benchmarks/ray_features.py", d) + "\n")
    out.append("The flowers main job's train stage (2816 photos, MobileNetV2 1.0/224, `auto`: three cached outputs "
               "x two views), each run from a fresh cache; the Ray runs against `ray start --head` on this machine.\n")
    out += ray_rows(d)
    m = d["scaling_model"]
    c = m["check_2_workers"]
    out.append(f"\nScaling model fitted on the one-worker run: start {m['start_s']:.1f} s, "
               f"{m['per_image_s'] * 1000:.1f} ms per image (decode + forward pass, both views), "
               f"{m['overhead_per_shard_s'] * 1000:.0f} ms overhead per shard of {m['shard_images']} images. "
               f"Predicted for two workers {c['predicted_s']:.1f} s, measured {c['measured_s']:.1f} s "
               f"({rel(c['error'])}).\n")
    out.append("| workers (one core each) | " + " | ".join(m["predict_500k_images_h"]) + " |")
    out.append("|---|" + "---|" * len(m["predict_500k_images_h"]))
    out.append("| 500,000 images, hours (model) | " + " | ".join(f"{v:.2f}" for v in m["predict_500k_images_h"].values())
               + " |")
    return "\n".join(out) + "\n"



def render() -> str:
    head = ("# Measured results\n\nGenerated by `python benchmarks/results.py` from the raw files in `results/`; "
            "`python benchmarks/results.py --check` fails when this file differs from them. Each section names its "
            "raw file, the script that wrote it, the date and the machine. Machines of this kind differ in speed by "
            "up to 2x: compare numbers only within one section.\n")
    return head + "\n" + "\n".join(s() for s in SECTIONS)


def readme_block() -> str:
    d = load("main_job.json")
    if d is None:
        return "Not measured yet: `python benchmarks/main_job.py --shared ../shared`."
    v, st = d["train"]["validation"], d["train"]["strategy"]
    by = {r["target"]: r for r in d["exports"]}
    rows = ["| what | measured |", "|---|---|",
            f"| the whole command, cold caches | {d['wall_s'] / 60:.1f} min (exit code {d['exit_code']}) |",
            f"| `auto` strategy | chose `{st.get('strategy')}` |",
            f"| validation top-1 (Keras) | **{v['top1']:.4f}** on {v['images']} images |"]
    te = d["train"].get("test")
    if te:
        rows.append(f"| test top-1 (Keras, held out) | **{te['top1']:.4f}** on {te['images']} images |")
    for t in ("tflite:fp32", "tflite:int8", "tflite:uint8", "onnx:fp32", "onnx:fp16", "onnx:int8"):
        r = by.get(t)
        if r:
            tt = r.get("test") or {}
            test = (f"; test {tt['accuracy']:.4f} ({-tt['accuracy_drop_points'] + 0.0:+.2f})"
                    if tt.get("accuracy") is not None else "")
            rows.append(f"| {t} | validation top-1 {r['accuracy']:.4f} ({-r['accuracy_drop_points'] + 0.0:+.2f} points "
                        f"vs Keras){test}, {r['size_bytes'] / 2**20:.1f} MiB, {status(r)} |")
    best = (d.get("bench") or {}).get("best") or []
    for x in best:
        if x.get("basis") != "measured":
            continue
        pick = f"{x['target']}, {x['threads']} thread(s), p50 {x['p50_ms']:.2f} ms"
        if x.get("reliable") is False:  # what the protocol knows reaches the page
            rows.append(f"| fastest within budget on {x['device']} | no reliable measurement; fastest unreliable: "
                        f"{pick} ({x.get('unreliable_reason') or 'marked unreliable'}) |")
        elif "reliable" not in x:
            rows.append(f"| fastest within budget on {x['device']} | {pick} (reliability not recorded by this "
                        "older raw file) |")
        else:
            rows.append(f"| fastest within budget on {x['device']} | {pick} (reliable) |")
    tt = load("test_timing.json")
    if tt:
        target = (f", target {tt['target_s'] / 60:.0f} min: {'within' if tt['within_target'] else 'over'}"
                  if "target_s" in tt else "")
        rows.append(f"| the fast tests (`python -m pytest -q`) | {tt['wall_s'] / 60:.1f} min{target} ({tt['summary']}; "
                    f"{tt['date']}, {tt['machine'].get('cpu', '?')}, {_commit(tt)}; "
                    f"`benchmarks/results/test_timing.json`) |")
    return (f"{d['date']}, {machine(d['machine'])}, {_commit(d)}; raw file `benchmarks/results/main_job.json`.\n\n"
            + "\n".join(rows))


def ray_readme_block() -> str:
    d = load("ray_features.json")
    if d is None:
        return "Not measured yet: `python benchmarks/ray_features.py --shared ../shared`."
    return (f"{d['date']}, {machine(d['machine'])}; raw file `benchmarks/results/ray_features.json`.\n\n"
            + "\n".join(ray_rows(d)))


def text_rows(d: dict[str, Any]) -> list[str]:
    t, fe, sms = d["trec6"], d["trec6_feature_extraction"], d["sms_spam"]
    timed_by = " (the pipeline's own timing of its cold run)" if d.get("wall_note") else ""
    rows = ["| what | measured |", "|---|---|",
            f"| `edgetl pipeline examples/trec6.yaml`, cold caches | {d['wall_s'] / 60:.1f} min{timed_by} |",
            f"| TREC-6 sequence length | {t['sequence']['length']} tokens ({t['sequence']['chosen_from']}; "
            f"{100 * t['sequence']['train_texts_cut']:.1f}% of training texts cut) |",
            f"| TREC-6 test top-1, fine-tuned (Keras) | **{t['test']['top1']:.4f}** on {t['test']['images']} questions "
            f"(validation {t['validation']['top1']:.4f}) |",
            *([f"| TREC-6 fine-tuning runs averaged (soup) | {len(t['fine_tune']['runs'])} runs, each test top-1 "
               + ", ".join(f"{r['test_top1']:.4f}" for r in t["fine_tune"]["runs"]) + " (validation "
               + ", ".join(f"{r['validation_top1']:.4f}" for r in t["fine_tune"]["runs"])
               + f"); their average model {t['test']['top1']:.4f} |"]
              if (t.get("fine_tune") or {}).get("runs") else []),
            f"| TREC-6 test top-1, feature extraction only | {f(fe['test_top1'], 4)} (validation "
            f"{fe['validation_top1']:.4f}) |",
            f"| SMS spam test top-1 (Keras) | **{sms['test']['top1']:.4f}** on {sms['test']['images']} messages "
            f"(validation {sms['validation']['top1']:.4f}) |"]
    for name, part in (("TREC-6", t), ("SMS spam", sms)):
        for r in part["exports"]:
            tt = r.get("test") or {}
            rows.append(f"| {name} {r['target']} | test top-1 {f(tt.get('accuracy'), 4)} "
                        f"({-(tt.get('accuracy_drop_points') or 0) + 0.0:+.2f} points vs Keras), "
                        f"{r['size_bytes'] / 2**20:.1f} MiB, {status(r)} |")
    lat = {(r["device"], r["target"]): r for r in t["bench"] if r.get("status") == "ok" and r.get("threads") == 1}
    base = lat.get(("host-cpu", "tflite:fp32"))
    for key in sorted(lat):
        r = lat[key]
        ratio = f", {r['p50_ms'] / base['p50_ms']:.2f}x fp32" if base and key[0] == "host-cpu" else ""
        flag = " (unreliable: the protocol's noise check failed)" if r.get("reliable") is False else ""
        rows.append(f"| TREC-6 {key[1]} on {key[0]}, 1 thread | p50 {r['p50_ms']:.2f} ms per question{ratio}{flag} |")
    return rows


def text_readme_block() -> str:
    d = load("text_main_job.json")
    if d is None:
        return "Not measured yet: `python benchmarks/text_main_job.py --shared ../shared`."
    return (f"{d['date']}, {machine(d['machine'])}, {_commit(d)}; raw file `benchmarks/results/text_main_job.json`.\n\n"
            + "\n".join(text_rows(d)))


def text_sweep() -> str:
    d = load("text_sweep.json")
    out = ["## Text: TREC-6 fine-tuning settings, chosen on validation only\n"]
    if d is None:
        return out[0] + missing("text_sweep.json", "python benchmarks/text_sweep.py --shared ../shared")
    if d.get("protocol") != 2:
        return out[0] + ("The raw file is from before the nested protocol (its split overlapped the main job's test "
                         "texts): rerun `python benchmarks/text_sweep.py --shared ../shared`.\n")
    m, sp, rows = d["machine"], d["split"], d["rows"]
    hashes = d["test_texts_sha256"]
    out.append(f"Raw: `results/text_sweep.json` (written by `benchmarks/text_sweep.py` on {d['date']}; "
               f"{m['processor']}, {m['cpus']} CPUs, {m.get('system', '')}, Python {m['python']}; {_commit(d)}). "
               f"Every row trains `examples/trec6.yaml`'s train block with the options of the row changed, on the main "
               f"job's own split (validation {sp['val_split']}, test {sp['test_split']}, seed {sp['seed']}: "
               f"{rows[0]['training_texts']} training, {rows[0]['validation_texts']} validation, "
               f"{rows[0]['test_texts']} test texts). The choice reads validation only ("
               f"{d['rule'].strip().rstrip('.').lower()}); the test "
               f"texts are the main job's, and no choice read them: their top-1 is printed for the reader. "
               + ("Every row had the same test texts (sha256 " + hashes[0] + "). " if len(hashes) == 1 else
                  f"The rows had {len(hashes)} different test sets: the protocol was broken. ")
               + "Every row keeps its last epoch's weights (no epoch is chosen on validation), so each validation "
               f"figure is unbiased. Stage 2 is a model soup of {max(r['fine_tune_runs'] for r in rows)} runs at "
               "stage 1's best setting.\n")
    out.append("| row | fine-tune lr | epochs | batch | label smoothing | runs averaged | validation top-1 | "
               "test top-1 (not chosen on) | fine-tune s |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        mark = " **chosen**" if r["name"] == d["chosen_on_validation"] else ""
        ls = r["changed"].get("label_smoothing", 0.1)
        out.append(f"| {r['name']}{mark} | {r['fine_tune_lr']:g} | {r['fine_tune_epochs']} | {r['batch_size']} | "
                   f"{ls:g} | {r['fine_tune_runs']} | {r['validation_top1']:.4f} | {r['test_top1']:.4f} | "
                   f"{f(r.get('fine_tune_s'), 0)} |")
    n = rows[0]["validation_texts"]
    ranked = sorted(rows, key=lambda r: -r["validation_top1"])
    lead = round((ranked[0]["validation_top1"] - ranked[1]["validation_top1"]) * n) if len(ranked) > 1 else 0
    out.append(f"\nOne validation text is {100 / n:.2f} points. The chosen row leads the next "
               f"(`{ranked[1]['name'] if len(ranked) > 1 else '-'}`) by {lead} validation text(s), and the rows span "
               f"{round((ranked[0]['validation_top1'] - ranked[-1]['validation_top1']) * n)}: the settings differ "
               "little, and the rule takes the highest figure anyway. The defaults in `examples/trec6.yaml` are the "
               f"chosen row's settings: `{d['chosen_on_validation']}`.")
    return "\n".join(out) + "\n"


def text_main_job() -> str:
    d = load("text_main_job.json")
    out = ["## Text: TREC-6 and SMS spam with MiniLM-L6\n"]
    if d is None:
        return out[0] + missing("text_main_job.json", "python benchmarks/text_main_job.py --shared ../shared")
    out.append(source("text_main_job.json", "benchmarks/text_main_job.py", d) + "\n")
    out += text_rows(d)
    out.append("\nAccuracy and latency against the sequence length (the trained TREC-6 weights rebuilt at each "
               "length; TFLite, one thread, timed round-robin in one process):\n")
    out.append("| tokens | training texts cut | test top-1 (Keras) | fp32 p50 ms | dynamic p50 ms | dynamic / fp32 |")
    out.append("|---|---|---|---|---|---|")
    for r in d["length_sweep"]:
        out.append(f"| {r['length']} | {100 * r['train_texts_cut']:.1f}% | {r['test_top1']:.4f} | {r['fp32_p50_ms']:.2f} | "
                   f"{r['dynamic_p50_ms']:.2f} | {r['dynamic_vs_fp32']:.2f} |")
    ro = d["runtime_only"]
    out.append(f"\nRuntime-only environment (TensorFlow importable: {ro['tensorflow_importable']}), "
               f"{ro['texts']} test texts through `edgetl predict --texts-file`: " + ", ".join(
                   f"{k} {v['same_labels']}/{v['of']} same labels" if "same_labels" in v else f"{k} error"
                   for k, v in ro["artifacts"].items()) + ".\n")
    ref = load("text_reference.json")
    if ref:
        out.append(f"Encoder against the reference ({source('text_reference.json', 'benchmarks/text_reference.py', ref)}"
                   f"): transformers {ref['reference']['transformers']} on torch {ref['reference']['torch']}, "
                   f"{ref['texts']} real texts at {ref['length']} tokens: token ids identical: "
                   f"{ref['token_ids_identical']}; mean-pooled embeddings max abs diff {ref['pooled_max_abs_diff']:.1e} "
                   f"(mean {ref['pooled_mean_abs_diff']:.1e}, embedding values average {ref['embedding_scale']:.2f}), "
                   f"cosine similarity min {ref['cosine_min']:.7f}.\n")
    return "\n".join(out) + "\n"


# generated blocks in the prose: name -> (the file that holds it, what writes it)
BLOCKS: dict[str, tuple[str, Callable[[], str]]] = {"main_job": ("README.md", readme_block),
                                                     "ray_features": ("docs/ray.md", ray_readme_block),
                                                     "text_main_job": ("docs/text.md", text_readme_block)}


def with_blocks(name: str, text: str) -> str:
    """``text`` (the file ``name``, relative to the repository) with each of its generated blocks rewritten."""
    for block, (where, make) in BLOCKS.items():
        if where != name:
            continue
        begin, end = markers(block)
        if begin not in text or end not in text:
            raise SystemExit(f"{name} has no {begin} ... {end} block")
        a, rest = text.split(begin, 1)
        _, b = rest.split(end, 1)
        text = a + begin + "\n" + make() + "\n" + end + b
    return text


SECTIONS: list[Callable[[], str]] = [main_job, text_main_job, text_sweep, headline, openvino_vs_ort, runtime_overhead, runtime_only, selective,
                                     quant_matrix, clients, arm64_box, onnx_calibration_memory,
                                     cached_features, ray_features, gpu, loopback, lite_import, estimator, fuzz]


def _selective_rows() -> list[dict[str, Any]]:
    d = load("selective.json")
    return d["rows"] if d else []


def _claim_nearest_gap() -> str:
    r = next(x for x in _selective_rows() if x["fine_tune_lr"] == 1e-05 and x["target"] == "tflite:int8")
    return (f"a {r['nearest']['val_drop']:.2f}-point validation drop came with a {r['nearest']['test_drop']:.1f}-point "
            "drop on the held-out")


def _claim_onnx_limits() -> str:
    import re

    lims = [float(m) for x in _selective_rows() if x["target"] == "onnx:int8"
            for m in re.findall(r"over the limit of ([0-9.]+)x", (x.get("selective") or {}).get("reason") or "")]
    return f"{min(lims):.2f}x to {max(lims):.2f}x the plain int8"


def _sweep() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any] | None]:
    """(raw file, the chosen row, the soup row) of results/text_sweep.json."""
    d = load("text_sweep.json") or {"rows": [{}], "chosen_on_validation": None}
    rows = {r.get("name"): r for r in d["rows"]}
    soup = next((r for r in d["rows"] if (r.get("fine_tune_runs") or 1) > 1), None)
    return d, rows.get(d["chosen_on_validation"], {}), soup


def _claim_text_choice() -> str:
    _, r = _sweep()[:2]
    lr = ("%.0e" % r.get("fine_tune_lr", 0)).replace("e-0", "e-")  # 1e-4, as the YAML and the docs write it
    return f"It chose {r.get('fine_tune_epochs')} epochs at {lr} and {r.get('fine_tune_runs')} run"


def _claim_soup_gap() -> str:
    d, _, soup = _sweep()
    if soup is None:
        return "no soup row"
    base = next(r for r in d["rows"] if r["name"] == soup["name"].rsplit("_soup", 1)[0])
    gap = round((base["validation_top1"] - soup["validation_top1"]) * soup["validation_texts"])
    where = "behind" if gap > 0 else "ahead of"
    return f"a soup of {soup['fine_tune_runs']} was {abs(gap)} validation text{'s' if abs(gap) != 1 else ''} {where} a single run"


# Figures in prose (outside the generated blocks): every one is listed in benchmarks/figures.yaml; a measured one
# names one of these, which rebuild its words from the raw file (benchmarks/prose.py checks them all).
CLAIMS: dict[str, Callable[[], str]] = {
    "nearest_gap": _claim_nearest_gap,  # results/selective.json rows 1e-05 tflite:int8, nearest rounding
    "onnx_limits": _claim_onnx_limits,  # results/selective.json onnx rows' latency limits
    "text_choice": _claim_text_choice,  # results/text_sweep.json: the row chosen on validation
    "soup_gap": _claim_soup_gap,  # results/text_sweep.json: the soup against the single run it starts from
}


def prose_problems() -> list[str]:
    import prose

    return prose.problems(CLAIMS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--check", action="store_true", help="fail when RESULTS.md or the README block is stale")
    args = ap.parse_args()
    results = render()
    docs = {ROOT.parent / f: with_blocks(f, (ROOT.parent / f).read_text()) for f in dict.fromkeys(w for w, _ in BLOCKS.values())}
    if args.check:
        bad = []
        for path, want in ((RESULTS, results), *docs.items()):
            have = path.read_text() if path.is_file() else ""
            if have != want:
                bad.append(path)
                sys.stdout.writelines(difflib.unified_diff(have.splitlines(True), want.splitlines(True),
                                                           str(path), "generated", n=1))
        prose = prose_problems()
        print("\n".join(prose))
        if bad or prose:
            sys.exit(f"stale: {', '.join(map(str, bad + [README] * bool(prose)))}; run python benchmarks/results.py "
                     "(prose figures: change them back, or see python benchmarks/prose.py)")
        print("RESULTS.md and the generated blocks of README.md and docs/ match the raw files")
        return
    RESULTS.write_text(results)
    for path, want in docs.items():
        path.write_text(want)
    print(f"wrote {RESULTS} and the generated blocks of {', '.join(str(p.relative_to(ROOT.parent)) for p in docs)}")
    for p in prose_problems():
        print(f"warning: {p}")


if __name__ == "__main__":
    main()
