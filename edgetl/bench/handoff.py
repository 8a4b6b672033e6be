"""The hand-off: per device, the file to put on it, what that file gives, and the commands that run it there.

Built from a benchmark's own JSON (its ``best`` answer per device, its rows and its device profiles), so the
pipeline and ``edgetl bench`` print the same thing and a program can read it from ``pipeline_report.json``.
"""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

# what a person feeds the model on the device, per modality (the contract's ``kind``)
TRY = {"image": ("photo.jpg", "examples/device_app/app.py"),
       "text": ("--text 'what is a prime number?'", "examples/device_app/text_app.py")}
COMPILER = ("edgetpu_compiler (Coral's Edge TPU Compiler: Debian/Ubuntu x86-64 package edgetpu-compiler from "
            "Coral's apt repository, https://coral.ai/docs/edgetpu/compiler/)")


def handoffs(doc: dict[str, Any], artifacts_dir: Path | None = None,
             exports: list[dict[str, Any]] | None = None, *, kind: str = "image") -> list[dict[str, Any]]:
    """One entry per device of the benchmark: the file (under ``artifacts/`` when the run has it), its size and
    accuracy (validation, and test where the export measured it), the latency as the protocol knows it, and the
    commands for that device; a device with no answer says why."""
    rows = {(r["artifact"], r["device"], r.get("threads")): r for r in doc.get("rows", [])}
    acc = {e["target"]: e for e in exports or [] if e.get("target")}
    out = []
    for b in doc.get("best", []):
        dev = (doc.get("devices") or {}).get(b["device"]) or {"name": b["device"]}
        if not b.get("artifact"):
            out.append({"device": b["device"], "file": None, "why": b.get("why", "")})
            continue
        src = Path(b["artifact"])
        stable = artifacts_dir / src.name if artifacts_dir and (artifacts_dir / src.name).is_file() else src
        e = acc.get(b["target"], {})
        row = rows.get((b["artifact"], b["device"], b.get("threads")), {})
        out.append({"device": b["device"], "target": b["target"], "file": str(stable),
                    "size_bytes": stable.stat().st_size if stable.is_file() else row.get("size_bytes"),
                    "validation_top1": e.get("accuracy", b.get("accuracy")),
                    "test_top1": (e.get("test") or {}).get("accuracy"), "threads": b.get("threads"),
                    "latency": latency_text(b, row), "steps": steps(dev, stable, b, kind=kind)})
    return out


def latency_text(b: dict[str, Any], row: dict[str, Any]) -> str:
    p50 = b.get("p50_ms")
    if p50 is None:
        return "not measured"
    if b.get("basis") == "estimate":
        est = row.get("estimate") or {}
        lo, hi = est.get("p50_ms_low"), est.get("p50_ms_high")
        rng = f", range {lo:.1f}-{hi:.1f} ms" if lo is not None and hi is not None else ""
        return f"estimate {p50:.1f} ms{rng} (not measured: {est.get('expected_error') or 'an estimate'})"
    if b.get("reliable") is False:
        return f"p50 {p50:.2f} ms, UNRELIABLE ({b.get('unreliable_reason') or 'the protocol said so'})"
    return f"p50 {p50:.2f} ms (measured, reliable)"


def _files(model: Path) -> list[Path]:
    """The model (with its format's companion files), its sidecar contract and the labels beside it: what the
    device needs."""
    from ..targets import artifact_files

    side = [*artifact_files(model)[1:], model.with_name(model.name + ".json"), model.parent / "labels.txt"]
    return [model, *[p for p in side if p.is_file()]]


def steps(dev: dict[str, Any], model: Path, b: dict[str, Any], *, kind: str = "image") -> list[str]:
    """The commands, in order, that put ``model`` on the device and run it there."""
    access = dev.get("access") or {}
    q = shlex.quote
    item, app = TRY.get(kind, TRY["image"])
    run = (f"edgetl predict {q(model.name)} {item} --threads {b.get('threads') or 1}   "
           f"# or in an app: {app}")
    if access.get("kind") == "local":
        return [run.replace(q(model.name), q(str(model)), 1)]
    where = f"{access.get('user') or 'pi'}@{access.get('host') or '<board>'}"
    port = f"-P {access['port']} " if access.get("port") not in (None, 22) else ""
    out = []
    if dev.get("delegate") == "edgetpu":
        compiled = model.with_name(model.stem + "_edgetpu.tflite")
        out.append(f"edgetpu_compiler -s -o {q(str(model.parent))} {q(str(model))}   # {COMPILER}; writes "
                   f"{compiled.name}; {_expected_mapping(model)}")
        model = compiled
    out.append(f"scp {port}{' '.join(q(str(p)) for p in _files(model))} {where}:~/")
    os_note = {"aarch64": "a 64-bit OS (32-bit Raspberry Pi OS has no wheels of the runtime); "}.get(
        dev.get("os_arch") or "", "")
    out.append(f"ssh {where} 'python3 -m venv ~/edgetl && ~/edgetl/bin/pip install \"edgetl[runtime]\"'   "
               f"# {os_note}Python 3.10+")
    if dev.get("delegate") == "edgetpu":
        out.append(f"ssh {where} 'sudo apt-get install libedgetpu1-std'   # the Edge TPU runtime (Coral's apt "
                   "repository); edgetl's runtime does not load the delegate yet: load_delegate('libedgetpu.so.1') "
                   "in ai_edge_litert.interpreter runs the compiled file")
    else:
        out.append(f"ssh {where} '~/edgetl/bin/{run.split('   #')[0]}'")
    return out


def _expected_mapping(model: Path) -> str:
    """What edgetl's Edge TPU lint expects the compiler to map (``edgetl inspect MODEL --device coral-usb``)."""
    from ..analysis.edgetpu import lint_edgetpu
    from ..errors import EdgetlError

    try:
        lint = lint_edgetpu(model)
    except (EdgetlError, OSError) as exc:
        return f"edgetl's lint could not read it ({exc})"
    if lint.maps_fully:
        return f"edgetl's lint expects all {lint.ops_total} ops on the Edge TPU"
    return (f"edgetl's lint expects {lint.ops_mapped} of {lint.ops_total} ops on the Edge TPU, the rest on the CPU "
            f"from {lint.partition_op} on")


def handoff_lines(entries: list[dict[str, Any]]) -> list[str]:
    """The hand-off as lines a person reads at the end of a run."""
    lines = []
    for h in entries:
        if not h.get("file"):
            lines.append(f"{h['device']}: nothing to hand off ({h.get('why', '')})")
            continue
        size = f"{h['size_bytes'] / 2**20:.1f} MiB" if h.get("size_bytes") else "size unknown"
        acc = " ".join(x for x in (f"validation top-1 {h['validation_top1']:.4f}" if h.get("validation_top1")
                                   is not None else "", f"test {h['test_top1']:.4f}" if h.get("test_top1")
                                   is not None else "") if x)
        lines.append(f"{h['device']}: {h['target']} -> {h['file']} ({size}; {acc or 'accuracy unknown'}; "
                     f"{h['latency']})")
        lines += [f"    $ {s}" for s in h["steps"]]
    return lines
