"""``edgetl inspect``: size, compute, memory, op compatibility, Edge TPU mapping and latency estimates."""
from __future__ import annotations

import sys

import click

from ..options import emit


def _mb(n: float | None) -> str:
    return "-" if n is None else f"{n / 2**20:.2f} MB"


@click.command()
@click.argument("model", type=click.Path())
@click.option("--device", "devices", multiple=True, help="Profile name or .yaml path (repeatable).")
@click.option("--layers", "show_layers", is_flag=True, help="Print the per-layer table.")
@click.option("--unsafe-keras", is_flag=True, help="Allow .keras files with Lambda layers (runs their code).")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def inspect(model: str, devices: tuple[str, ...], show_layers: bool, unsafe_keras: bool, as_json: bool) -> None:
    """What MODEL (.tflite, .onnx, .keras) will do on each --device, without running it there."""
    from ...analysis.inspect_model import analyze, check
    from ...devices import load_profile

    report = analyze(model, unsafe_keras=unsafe_keras)
    checks = [check(report, load_profile(d)) for d in devices]
    if as_json:
        emit({"model": report.to_dict(layers=show_layers), "devices": checks}, True)
        return
    from rich.console import Console
    from rich.table import Table

    con = Console(width=None if sys.stdout.isatty() else 160)
    con.print(f"[bold]{model}[/] ({report.format}): input {list(report.input_shape)} {report.input_dtype}, output "
              f"{list(report.output_shape)}")
    con.print(f"  compute: {report.macs / 1e6:.1f} M multiply-accumulates; parameters: {report.params / 1e6:.3f} M; "
              f"weights: {', '.join(f'{k} {_mb(v)}' for k, v in report.weight_bytes_by_dtype.items())}")
    con.print(f"  peak activation memory: {_mb(report.peak_activation_bytes)}"
              + (f" (at {report.peak_at.split(';')[0][:70]})" if report.peak_at else ""))
    con.print(f"  ops: {', '.join(f'{k} x{v}' for k, v in report.ops.items())}")
    if report.min_runtime_version:
        con.print(f"  minimum TFLite runtime: {report.min_runtime_version}")
    for n in report.notes:
        con.print(f"  note: {n}")
    if show_layers:
        t = Table(title="layers")
        for c in ("#", "op", "name", "MMACs", "params", "output"):
            t.add_column(c)
        for layer in report.layers:
            t.add_row(str(layer.index), layer.op, layer.name.split(";")[0][:60], f"{layer.macs / 1e6:.2f}",
                      str(layer.params), str(list(layer.output_shape)))
        con.print(t)
    for c in checks:
        con.print(f"\n[bold]{c['device']}[/]: {'runs here' if c['runs_here'] else '[red]does not run here[/]: ' + c['why_not']}")
        for rt in c.get("runtimes", []):
            mark = "[green]ok[/]" if rt["ok"] else "[red]no[/]"
            con.print(f"  {rt['runtime']}: {mark} (model needs {rt['model_needs']})" +
                      (f" {', '.join(rt['culprits'])}; fix: {rt['fix']}" if not rt["ok"] else ""))
        if "gpu_delegate" in c:
            g = c["gpu_delegate"]
            con.print(f"  GPU delegate: {'all ops supported' if g['ok'] else 'falls back for ' + ', '.join(g['unsupported_ops'])}")
        if "edgetpu" in c:
            e = c["edgetpu"]
            head = ("[green]maps fully to the Edge TPU[/]" if e["maps_fully"] else
                    f"[yellow]{e['ops_mapped']} of {e['ops_total']} ops map to the Edge TPU[/]")
            con.print(f"  Edge TPU: {head}; parameters {_mb(e['parameter_bytes'])} of ~8 MB cache")
            for r in e["reasons"]:
                con.print(f"    - {r}")
            for f in e["fixes"]:
                con.print(f"    fix: {f}")
        b = c["budgets"]
        if b["ram_budget_mb"] is None:
            con.print(f"  memory: needs ~{b['ram_needed_mb']} MB; storage {b['storage_needed_mb']} MB (no budget in profile)")
        else:
            fits = "fits" if b["ram_fits"] else "[red]does NOT fit[/]"
            con.print(f"  memory: needs ~{b['ram_needed_mb']} MB of {b['ram_budget_mb']} MB budget ({fits}); storage "
                      f"{b['storage_needed_mb']} MB of {b['storage_budget_mb']} MB; dominated by "
                      f"{', '.join(d['name'].split(';')[0][:50] for d in b['dominated_by'])}")
        e = c.get("estimate")
        if e:
            con.print(f"  latency estimate: {e['p50_ms_low']}-{e['p50_ms_high']} ms (central {e['p50_ms']} ms, "
                      f"threads={e['threads']}; {e['basis']}; {e['expected_error']}). {e['note']}.")
