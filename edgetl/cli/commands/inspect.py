"""``edgetl inspect``: size, compute, memory, op compatibility, Edge TPU mapping and latency estimates."""
from __future__ import annotations

from typing import Any

import click

from ..options import emit


def _mb(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.2f} MB"


@click.command()
@click.argument("model", type=click.Path())
@click.option("--device", "devices", multiple=True, help="Profile name or .yaml path (repeatable).")
@click.option("--layers", "show_layers", is_flag=True, help="Print the per-layer table.")
@click.option("--threads", type=click.IntRange(1, 256), help="Estimate for this thread count (default: the profile's).")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]),
              help="Estimate the model exported at this precision (e.g. int8 of a float model, before exporting).")
@click.option("--unsafe-keras", is_flag=True, help="Allow .keras files with Lambda layers (runs their code).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def inspect(model: str, devices: tuple[str, ...], show_layers: bool, threads: int | None, precision: str | None,
            unsafe_keras: bool, as_json: bool) -> None:
    """What MODEL (.tflite, .onnx, .keras) will do on each --device, without running it there."""
    from ...analysis.inspect_model import analyze, check
    from ...devices import load_profile

    report = analyze(model, unsafe_keras=unsafe_keras)
    checks = [check(report, load_profile(d), threads=threads, precision=precision) for d in devices]
    if as_json:
        emit({"model": report.to_dict(layers=show_layers), "devices": checks}, True)
        return
    from rich.table import Table

    from ..console import console, esc, line, styled

    con = console(160)
    con.print(line(styled(model, "bold"), f" ({esc(report.format)}): input {list(report.input_shape)} "
                   f"{esc(report.input_dtype)}, output {list(report.output_shape)}"))
    con.print(f"  compute: {report.macs / 1e6:.1f} M multiply-accumulates; parameters: {report.params / 1e6:.3f} M; "
              f"weights: {esc(', '.join(f'{k} {_mb(v)}' for k, v in report.weight_bytes_by_dtype.items()))}")
    con.print(f"  peak activation memory: {_mb(report.peak_activation_bytes)}"
              + (f" (at {esc(report.peak_at.split(';')[0][:70])})" if report.peak_at else ""))
    con.print(f"  ops: {esc(', '.join(f'{k} x{v}' for k, v in report.ops.items()))}")
    if report.min_runtime_version:
        con.print(f"  minimum TFLite runtime: {esc(report.min_runtime_version)}")
    for n in report.notes:
        con.print(f"  note: {esc(n)}")
    if show_layers:
        t = Table(title="layers")
        for c in ("#", "op", "name", "MMACs", "params", "output"):
            t.add_column(c)
        for layer in report.layers:
            t.add_row(str(layer.index), esc(layer.op), esc(layer.name.split(";")[0][:60]), f"{layer.macs / 1e6:.2f}",
                      str(layer.params), str(list(layer.output_shape)))
        con.print(t)
    for c in checks:
        _print_check(con, c)


def _print_check(con: Any, c: dict) -> None:
    """One device's verdict: where it runs, the runtimes, GPU delegate, Edge TPU, OS, budgets and the estimate."""
    from ..console import esc, line, styled

    con.print(line("\n", styled(c["device"], "bold"), ": ", "runs here" if c["runs_here"] else
                   styled("does not run here", "red"), "" if c["runs_here"] else f": {esc(c['why_not'])}"))
    for rt in c.get("runtimes", []):
        mark = styled("ok", "green") if rt["ok"] else styled("no", "red")
        con.print(line(f"  {esc(rt['runtime'])}: ", mark, f" (model needs {esc(rt['model_needs'])})" +
                       (f" {esc(', '.join(rt['culprits']))}; fix: {esc(rt['fix'])}" if not rt["ok"] else "")))
    if "gpu_delegate" in c:
        g = c["gpu_delegate"]
        con.print("  GPU delegate: " + ("all ops supported" if g["ok"] else
                                        "falls back for " + esc(", ".join(g["unsupported_ops"]))))
    if "edgetpu" in c:
        e = c["edgetpu"]
        head = (styled("maps fully to the Edge TPU", "green") if e["maps_fully"] else
                styled(f"{e['ops_mapped']} of {e['ops_total']} ops map to the Edge TPU", "yellow"))
        con.print(line("  Edge TPU: ", head, f"; parameters {_mb(e['parameter_bytes'])} of ~8 MB cache"))
        for r in e["reasons"]:
            con.print(f"    - {esc(r)}")
        for f in e["fixes"]:
            con.print(f"    fix: {esc(f)}")
    if c.get("os"):
        con.print(f"  OS: {esc(c['os']['note'])}")
    b = c["budgets"]
    con.print("  " + esc(_budget_line(b)))
    e = c.get("estimate")
    if e:
        con.print(esc(f"  latency estimate: {e['p50_ms_low']}-{e['p50_ms_high']} ms (central {e['p50_ms']} ms, "
                      f"threads={e['threads']}; {e['basis']}; {e['expected_error']}). {e['note']}."))
    elif c.get("estimate_unavailable"):
        con.print(f"  latency estimate: none ({esc(c['estimate_unavailable'])})")


def _budget_line(b: dict) -> str:
    """Memory and storage against the profile's budgets; a missing budget is said once, not printed as None."""
    ram = f"needs ~{b['ram_needed_mb']} MB" + (
        f" of {b['ram_budget_mb']} MB RAM budget ({'fits' if b['ram_fits'] else 'does NOT fit'})"
        if b.get("ram_budget_mb") is not None else "")
    storage = f"storage {b['storage_needed_mb']} MB" + (
        f" of {b['storage_budget_mb']} MB" if b.get("storage_budget_mb") is not None else "")
    missing = [n for n in ("ram", "storage") if b.get(f"{n}_budget_mb") is None]
    line = f"memory: {ram}; {storage}"
    if missing:
        line += f" (no {' or '.join(missing)} budget in the profile)"
    dominated = ", ".join(d["name"].split(";")[0][:50] for d in b.get("dominated_by") or [])
    return line + (f"; dominated by {dominated}" if dominated else "")
