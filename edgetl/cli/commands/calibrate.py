"""``edgetl calibrate``: fit the latency estimator to a board from its own bench measurements."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from ...artifacts import atomic_write_json
from ..options import emit


@click.command()
@click.argument("bench_json", type=click.Path())
@click.option("--device", required=True, help="The board's profile (.yaml path or built-in name) its rows were measured on.")
@click.option("--out", type=click.Path(), help="Where to write the calibrated profile (default: <profile>-calibrated.yaml).")
@click.option("--json", "as_json", is_flag=True, help="Print the calibration and its validation as JSON.")
def calibrate(bench_json: str, device: str, out: str | None, as_json: bool) -> None:
    """Calibrate latency estimates for --device from BENCH_JSON ('edgetl bench --json' output or bench.json).

    Writes the fitted factors to <out>.calibration.json and a copy of the profile that names that file;
    'edgetl inspect MODEL --device <that profile>'
    then estimates the models you did not measure. With 3 or more models measured, the error of that is
    reported leave-one-model-out.
    """
    import yaml

    from ...analysis import calibrate as cal
    from ...analysis.cost import CostModel, cpu_from_hardware
    from ...analysis.estimate import cost_runtime
    from ...analysis.estimate import load_calibration
    from ...devices import load_profile
    from ...errors import ConfigError
    from ...safe_yaml import load_mapping

    prof = load_profile(device)
    if prof.emulated:
        raise ConfigError(f"profile {prof.name} is an emulated device: its latency is the emulator's, so there is "
                          "nothing to calibrate a board's estimate on. Bench the real board.")
    cpu, why = cpu_from_hardware(prof.hardware or {})
    if cpu is None:
        raise ConfigError(f"profile {prof.name}: {why}. Calibration corrects the estimate for a described CPU.")
    published = load_calibration()
    if published is None:
        raise ConfigError("the estimator's calibration file is missing from this installation; reinstall edgetl.")
    model = CostModel.from_dict(published["cpu"])
    rows, skipped, names = _measured_rows(bench_json, prof.name)
    runtime = cost_runtime(prof)[0]  # the kernels it states, else XNNPACK
    result = cal.calibrate(model, cpu, runtime, rows)
    raw = dict(load_mapping(prof.path, "Device profile") or {}) if prof.path else {
        "description": prof.description, "runtime": prof.runtime, "threads": list(prof.threads)}
    dest = Path(out or f"{prof.name}-calibrated.yaml")
    if dest.suffix not in (".yaml", ".yml"):
        raise ConfigError(f"--out {dest}: a profile is a .yaml file; name it {dest.stem}.yaml.")
    fitted = dest.with_name(f"{dest.stem}.calibration.json")  # its own file: the hardware facts stay as they are
    hw = {k: v for k, v in dict(raw.get("hardware") or prof.hardware or {}).items() if k != "latency_calibration"}
    raw.update({"name": dest.stem, "hardware": hw, "latency_calibration": fitted.name})  # name = the file's name
    if "description" not in raw:
        raw["description"] = f"{prof.description} (latency calibrated)"
    atomic_write_json(fitted, {**result["calibration"], "from": str(bench_json), "date": str(date.today()),
                               "profile": prof.name})
    tmp = dest.with_name(dest.name + ".tmp")
    tmp.write_text("# written by edgetl calibrate\n" + yaml.safe_dump(raw, sort_keys=False))
    tmp.replace(dest)
    if as_json:
        emit({"profile": str(dest), "calibration_file": str(fitted), **result, "models": {k: sorted(v) for k, v in names.items()},
              "skipped": skipped}, True)
        return
    c = result["calibration"]
    fp, i8 = (", ".join(f"{n} x{v:.3g}" for n, v in zip(c["parts"], c[p])) for p in ("fp32", "int8"))
    click.echo(f"{prof.name}: {c['measurements']} measurements of {c['models']} models. Against the published fit: "
               f"fp32 {fp}; int8 {i8}; thread scaling s={c['s']:.3g}")
    if "leave_one_model_out_median_ape" in c:
        click.echo(f"leave-one-model-out median error: {c['leave_one_model_out_median_ape']:.1%}")
    else:
        click.echo("fewer than 3 models: no leave-one-model-out check; the published range is kept")
    click.echo(f"wrote {dest} and {fitted.name}: edgetl inspect MODEL --device {dest}")


def _measured_rows(bench_json: str, device: str) -> tuple[list[tuple], list[str], dict[str, set[str]]]:
    """(work, threads, precision, p50 ms, model key) of each fp32 or int8 row of ``device``; the files skipped
    (other precisions); the file names of each model (its fp32 and int8 files count as one)."""
    from ...analysis import calibrate as cal
    from ...analysis.compat import precision_of
    from ...analysis.cost import work_of
    from ...analysis.inspect_model import analyze
    from ...errors import ConfigError

    rows = []
    skipped = []
    names: dict[str, set[str]] = {}
    reports: dict[Path, Any] = {}  # each model analyzed once, however many rows name it
    for r in cal.read_bench_rows(bench_json, device):
        path = Path(str(r["artifact"]))
        if not path.is_file():
            raise ConfigError(f"{bench_json}: artifact {path} of a measured row is not here; calibrate where the "
                              "bench ran, or keep the run folder.")
        real = path.resolve()
        if real not in reports:
            reports[real] = analyze(path)
        rep = reports[real]
        prec = precision_of(rep)  # from the file itself: full integer, or float
        if prec not in ("fp32", "int8"):
            skipped.append(f"{path.name} ({prec})")
            continue
        key = f"{rep.macs / 1e6:.0f}M MACs"  # one network: its fp32 and int8 files count as one model
        names.setdefault(key, set()).add(path.name)
        rows.append((work_of(rep), int(r.get("threads") or 1), prec, float(r["p50_ms"]), key))
    if not rows:
        raise ConfigError(f"{bench_json}: no fp32 or int8 rows of {device} to calibrate on (skipped: "
                          f"{', '.join(sorted(set(skipped)))}).")
    return rows, skipped, names
