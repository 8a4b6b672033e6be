"""Device profiles, the timing loop, Pareto fronts and SSH argument safety (no TensorFlow, no network)."""
import shlex
from pathlib import Path

import numpy as np
import pytest

from edgetl.bench.report import pareto
from edgetl.bench.timing import measure
from edgetl.devices import Access, DeviceProfile, builtin_profiles, load_profile
from edgetl.errors import ConfigError

REQUIRED = {"host-cpu", "cuda-gpu", "rpi4", "rpi5", "rpi-zero2w", "coral-usb", "coral-devboard", "jetson-nano",
            "jetson-orin-nano", "pixel4"}


def test_every_builtin_profile_loads_and_documents_itself() -> None:
    names = set(builtin_profiles())
    assert REQUIRED <= names
    for n in names:
        p = load_profile(n)
        assert p.name == n and p.description
        if p.emulated:  # an emulator has no hardware to describe and no published figures
            assert p.access.kind == "none" and "arm64_box.py" in p.description, n
        elif n not in ("host-cpu", "host-onnx", "host-openvino", "cuda-gpu"):
            assert p.sources and p.hardware, n  # published figures carry their sources
    assert load_profile("coral-usb").needs_full_int8 and load_profile("coral-usb").delegate == "edgetpu"
    assert load_profile("cuda-gpu").providers == ("CUDAExecutionProvider",)


def test_repository_devices_folder_is_the_builtin_one() -> None:
    top = Path(__file__).resolve().parents[2] / "devices"
    assert {p.stem for p in top.glob("*.yaml")} == set(builtin_profiles())


def _write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / f"{name}.yaml"
    p.write_text(body)
    return p


@pytest.mark.parametrize("body,match", [
    ("name: x\ndescription: d\nruntime: tensorrt\n", "runtime must be one of"),
    ("name: x\ndescription: d\nruntime: litert\nthreds: 2\n", "Did you mean 'threads'"),
    ("name: x\ndescription: d\nruntime: litert\nthreads: 0\n", "threads must be"),
    ("name: x\nruntime: litert\n", "'description' is required"),
    ("name: x\ndescription: d\nruntime: litert\ndelegate: npu\n", "delegate must be"),
    ("name: x\ndescription: d\nruntime: litert\nmin_runs: 10\nmax_runs: 5\n", "must not exceed"),
    ("name: x\ndescription: d\nruntime: litert\naccess: {kind: telnet}\n", "access.kind"),
    ("name: x\ndescription: d\nruntime: litert\naccess: {kind: ssh, host: 'pi; rm -rf /'}\n", "not a host name"),
    ("name: x\ndescription: d\nruntime: litert\naccess: {kind: ssh, host: '-oProxyCommand=evil'}\n", "not a host name"),
    ("name: x\ndescription: d\nruntime: litert\naccess: {kind: ssh, host: pi, user: 'a b'}\n", "not a valid user"),
    ("name: x\ndescription: d\nruntime: litert\naccess: {kind: ssh, host: pi, workdir: '/tmp/$(reboot)'}\n",
     "access.workdir"),
    ("name: x\ndescription: d\nruntime: litert\naccess: {kind: ssh, host: pi, port: 70000}\n", "port"),
    ("name: x\ndescription: d\nruntime: litert\nemulated: 'yes'\n", "emulated must be true or false"),
    ("name: x\ndescription: d\nruntime: litert\nos_arch: armhf\n", "os_arch must be one of"),
    ("- 1\n", "mapping"),
    ("name: [\n", "not valid YAML"),
])
def test_profile_errors(tmp_path: Path, body: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        DeviceProfile.from_yaml(_write(tmp_path, "x", body))


def test_file_name_must_match_and_unknown_names_suggest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file name must match"):
        DeviceProfile.from_yaml(_write(tmp_path, "y", "name: x\ndescription: d\nruntime: litert\n"))
    with pytest.raises(ConfigError, match="Did you mean 'rpi4'"):
        load_profile("rpi44")


def test_accepts_by_runtime_and_format() -> None:
    assert load_profile("host-cpu").accepts("tflite:int8")[0]
    assert not load_profile("host-cpu").accepts("onnx:fp32")[0]
    ok, why = load_profile("coral-usb").accepts("tflite:fp32")
    assert not ok and "accepts tflite:uint8" in why


def test_hostile_values_stay_single_arguments() -> None:
    """Even values that pass validation are quoted: the remote shell sees each as one word."""
    from edgetl.bench.remote import SSHTarget

    t = SSHTarget(Access(kind="ssh", host="127.0.0.1", user="pi", workdir="/tmp/a b"))
    argv = ["python3", "-m", "edgetl.bench.worker", "/tmp/x;reboot", "--settings", '{"a": "$(id)"}']
    quoted = " ".join(shlex.quote(a) for a in argv)
    assert shlex.split(quoted) == argv
    assert t.dest == "pi@127.0.0.1" and "StrictHostKeyChecking=yes" in t._opts() and "BatchMode=yes" in t._opts()


def test_timing_loop_bounds_and_statistics() -> None:
    calls = []
    res, lat = measure(lambda: calls.append(1), warmup_runs=3, min_runs=20, max_runs=50, min_time_s=0.0,
                       max_time_s=5.0)
    assert res.runs == 20 == len(lat) and res.p50_ms <= res.p90_ms <= res.p99_ms <= res.max_ms
    assert res.ci95_ms >= 0 and res.throughput_ips > 0 and len(calls) == 20 + res.warmup_runs
    res2, _ = measure(lambda: None, warmup_runs=0, min_runs=10**9, max_runs=10**9, min_time_s=0.05, max_time_s=0.05)
    assert 0.05 <= res2.elapsed_s < 1.0  # the time bound stops it


def test_pareto_front() -> None:
    pts = [(1.0, 0.90, 0), (2.0, 0.95, 1), (3.0, 0.93, 2), (0.5, 0.80, 3), (2.5, 0.95, 4)]
    assert sorted(pareto(pts)) == [0, 1, 3]


def test_a_crashed_worker_becomes_a_failed_row() -> None:
    import subprocess

    from edgetl.bench.remote import _parse

    crashed = subprocess.CompletedProcess(["x"], -11, "", "Fatal Python error: Segmentation fault")
    r = _parse(crashed, "this machine")
    assert r["status"] == "failed" and "crashed" in r["reason"] and "signal 11" in r["reason"]
    silent = subprocess.CompletedProcess(["x"], 1, "", "ImportError: no module named edgetl")
    assert "without a result" in _parse(silent, "pi")["reason"]


def test_package_data_globs_match_files() -> None:
    """Built-in profiles and the estimator calibration must ship in wheels, not only in a checkout."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    globs = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["edgetl"]
    assert "profiles/*.yaml" in globs and "analysis/calibration.json" in globs
    assert {"analysis/anchors.csv", "analysis/anchor_devices.yaml", "analysis/anchor_models.json"} <= set(globs)
    for g in globs:
        assert list((root / "edgetl").glob(g)), g


def test_hardware_is_typed_and_reads_like_its_yaml(tmp_path: Path) -> None:
    from edgetl.hardware import Hardware

    coral = load_profile("coral-usb")
    assert isinstance(coral.hardware, Hardware) and isinstance(coral.hardware.host, Hardware)
    assert coral.hardware.host.core == "cortex-a72" and coral.hardware["host"]["cores"] == 4
    assert coral.to_dict()["hardware"] == dict(coral.hardware) == coral.hardware.to_dict()
    assert None not in coral.to_dict()["hardware"].values()
    bad = _write(tmp_path, "b", "name: b\ndescription: x\nruntime: litert\nhardware: {core: cortex-a72, "
                                "int8_dot_product: maybe}\n")
    with pytest.raises(ConfigError, match="int8_dot_product must be true or false"):
        load_profile(str(bad))
    typo = _write(tmp_path, "t", "name: t\ndescription: x\nruntime: litert\nhardware: {clock_gz: 1.5}\n")
    with pytest.raises(ConfigError, match="Did you mean 'clock_ghz'"):
        load_profile(str(typo))
