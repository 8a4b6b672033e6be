"""edgetl bench for real: host CPU, a real sshd on 127.0.0.1, failures as rows, the HTML report in Chromium."""
import getpass
import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.litert
pytest.importorskip("ai_edge_litert")
FOREIGN = "models/tf2_mobilenet_v2_1.0_224_ptq.tflite"
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if not Path(SSHD).exists() or shutil.which("ssh-keygen") is None:
        pytest.skip("openssh-server is not installed (.ci/run installs it)")
    d = tmp_path_factory.mktemp("sshd")
    for name in ("host", "client"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(d / name)], check=True)
    (d / "authorized_keys").write_text((d / "client.pub").read_text())
    port = _free_port()
    cfg = d / "sshd_config"
    cfg.write_text(f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d / 'host'}\nPidFile {d / 'sshd.pid'}\n"
                   f"AuthorizedKeysFile {d / 'authorized_keys'}\nPasswordAuthentication no\n"
                   "KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nPermitRootLogin prohibit-password\n"
                   "StrictModes no\nUsePAM no\n")
    Path("/run/sshd").mkdir(exist_ok=True)
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(cfg)], stderr=subprocess.PIPE)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail(f"sshd did not start: {proc.stderr.read().decode()[-500:] if proc.stderr else ''}")
    host_pub = (d / "host.pub").read_text().split()
    (d / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    yield {"port": port, "key": str(d / "client"), "known_hosts": str(d / "known_hosts"), "dir": d}
    proc.terminate()
    proc.wait(timeout=10)


def _profile(tmp_path: Path, sshd: dict, name: str = "loopback", emulated: bool = False, **over) -> Path:
    access = {"kind": "ssh", "host": "127.0.0.1", "port": sshd["port"], "user": getpass.getuser(), "key": sshd["key"],
              "known_hosts": sshd["known_hosts"], "python": sys.executable, "workdir": str(tmp_path / "remote"),
              **over}
    body = {"name": name, "description": "this machine over SSH on loopback", "runtime": "litert", "threads": [1],
            "access": access, "warmup_runs": 3, "min_runs": 10, "max_runs": 40, "min_time_s": 0.2, "max_time_s": 2}
    if emulated:  # an emulator's profile: a short timing loop, its latency never shown as a speed
        body.update(emulated=True, warmup_runs=1, min_runs=2, max_runs=3, min_time_s=0, max_time_s=5, repetitions=1)
    p = tmp_path / f"{name}.yaml"
    p.write_text(json.dumps(body))
    return p


def _bench(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "bench", *args, "--json"], capture_output=True,
                         text=True, timeout=600)
    assert out.returncode in (0, 1), out.stderr[-3000:]
    return json.loads(out.stdout)


@pytest.mark.slow  # over 5 s (benchmarks/results/test_timing.json): CI runs it with -m slow
def test_host_and_loopback_ssh_rows_are_complete(shared: Path, sshd: dict, tmp_path: Path) -> None:
    model = tmp_path / "coral.tflite"
    model.write_bytes((shared / FOREIGN).read_bytes())
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\xff" * 200)
    fast = tmp_path / "fast-cpu.yaml"
    fast.write_text(json.dumps({"name": "fast-cpu", "description": "host, short timing", "runtime": "litert",
                                "threads": [1, 2], "warmup_runs": 3, "min_runs": 10, "max_runs": 40,
                                "min_time_s": 0.2, "max_time_s": 2}))
    doc = _bench([str(model), str(broken), "--device", str(fast), "--device", str(_profile(tmp_path, sshd)),
                  "--device", "rpi4", "--out", str(tmp_path / "report")])
    rows = doc["rows"]
    ok = [r for r in rows if r["artifact"].endswith("coral.tflite") and r["device"] in ("fast-cpu", "loopback")]
    assert {(r["device"], r["threads"]) for r in ok} == {("fast-cpu", 1), ("fast-cpu", 2), ("loopback", 1)}
    for r in ok:
        assert r["status"] == "ok", r
        assert 0 < r["p50_ms"] <= r["p90_ms"] <= r["p99_ms"] and r["runs"] >= 10 and r["rss_peak_mb"] > 0
        assert r["backend"].startswith("litert")
    bad = [r for r in rows if r["artifact"].endswith("broken.tflite") and r["device"] != "rpi4"]
    assert bad and all(r["status"] == "failed" and "not a valid TFLite model" in r["reason"] for r in bad)
    rpi = [r for r in rows if r["device"] == "rpi4"]
    assert rpi and all(r["status"] == "unreachable" and "access.kind: none" in r["reason"] for r in rpi)
    est = next(r["estimate"] for r in rpi if r["artifact"].endswith("coral.tflite"))
    assert est["p50_ms_low"] < est["p50_ms"] < est["p50_ms_high"] and "not a measurement" in est["note"]
    assert (tmp_path / "remote" / "coral.tflite").is_file()  # really copied over SSH
    # JSON, CSV and Markdown carry the same numbers
    report = tmp_path / "report"
    j = json.loads((report / "bench.json").read_text())
    assert j["schema"] == 1 and [r["p50_ms"] for r in j["rows"]] == [r["p50_ms"] for r in rows]
    import csv

    csv_rows = list(csv.DictReader((report / "bench.csv").open()))
    assert [float(r["p50_ms"]) if r["p50_ms"] else None for r in csv_rows] == [r["p50_ms"] for r in rows]
    md = (report / "bench.md").read_text()
    assert f"{ok[0]['p50_ms']:.3f}" in md


def test_an_emulated_device_gives_real_results_and_no_speed(shared: Path, sshd: dict, tmp_path: Path) -> None:
    """An emulated board (the arm64 box's profile) over SSH: load, accuracy and scores are real; its latency sits in
    ``emulated_ms`` only, is marked unreliable, names no fastest answer and cannot be calibrated on."""
    model = tmp_path / "coral.tflite"
    model.write_bytes((shared / FOREIGN).read_bytes())
    prof = _profile(tmp_path, sshd, name="emu-box", emulated=True)
    doc = _bench([str(model), "--device", str(prof), "--out", str(tmp_path / "report")])
    (row,) = doc["rows"]
    assert row["status"] == "ok" and row["emulated"] is True and row["reliable"] is False, row
    assert "emulated" in row["unreliable_reason"] and row["backend"].startswith("litert")
    assert all(row[k] is None for k in ("p50_ms", "p90_ms", "first_ms", "throughput_ips"))
    emu = row["emulated_ms"]
    assert emu["p50_ms"] > 0 and emu["first_ms"] > 0
    j = json.loads((tmp_path / "report" / "bench.json").read_text())
    assert j["best"] == [{"device": "emu-box", "artifact": None, "emulated": True, "why": j["best"][0]["why"]}]
    assert "names no fastest" in j["best"][0]["why"]
    md = (tmp_path / "report" / "bench.md").read_text()
    assert f"{emu['p50_ms']:.3f}" not in md and "emulated" in md
    cal = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "calibrate", str(tmp_path / "report" / "bench.json"),
                          "--device", str(prof)], capture_output=True, text=True, timeout=300)
    assert cal.returncode != 0 and "emulated device" in cal.stderr, cal.stderr[-500:]


def test_unreachable_ssh_host_is_a_row(shared: Path, sshd: dict, tmp_path: Path) -> None:
    prof = _profile(tmp_path, sshd, name="nobody", port=_free_port())  # nothing listens there
    doc = _bench([str(shared / FOREIGN), "--device", str(prof), "--out", str(tmp_path / "r")])
    assert [r["status"] for r in doc["rows"]] == ["unreachable"] and "cannot reach" in doc["rows"][0]["reason"]


def test_wrong_host_key_is_refused(shared: Path, sshd: dict, tmp_path: Path) -> None:
    kh = tmp_path / "known_hosts"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    kh.write_text(f"[127.0.0.1]:{sshd['port']} " + " ".join((tmp_path / "other.pub").read_text().split()[:2]) + "\n")
    doc = _bench([str(shared / FOREIGN), "--device", str(_profile(tmp_path, sshd, name="mitm", known_hosts=str(kh))),
                  "--out", str(tmp_path / "r")])
    row = doc["rows"][0]
    assert row["status"] == "unreachable" and "Host key verification failed" in row["reason"], row["reason"]


def test_cuda_profile_without_provider_is_a_clear_row(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has CUDA: the GPU check measures it instead")
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 8, 8, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])
    g = helper.make_graph([helper.make_node("ReduceMean", ["image"], ["y"], axes=[1, 2], keepdims=0)], "g", [x], [y])
    m = tmp_path / "m.onnx"
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), m)
    (tmp_path / "m.onnx.json").write_text(json.dumps({"schema": 1, "format": "onnx", "precision": "fp32",
                                                       "input": {"shape": [1, 8, 8, 3]}, "labels": ["a", "b", "c"]}))
    doc = _bench([str(m), "--device", "cuda-gpu", "--out", str(tmp_path / "r")])
    row = doc["rows"][0]
    assert row["status"] == "skipped" and "no CUDAExecutionProvider" in row["reason"]


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed (.ci/run installs it)")
def test_html_report_renders_with_plots_in_chromium(shared: Path, tmp_path: Path) -> None:
    from edgetl.bench.report import write_reports
    from edgetl.bench.runner import collect, run_bench
    from edgetl.devices import DeviceProfile

    prof = DeviceProfile.from_dict({"name": "t", "description": "d", "runtime": "litert", "threads": [1, 2],
                                    "warmup_runs": 2, "min_runs": 5, "max_runs": 20, "min_time_s": 0.1,
                                    "max_time_s": 1}, source="test")
    model = tmp_path / "coral.tflite"
    model.write_bytes((shared / FOREIGN).read_bytes())
    rows = run_bench(collect([str(model)]), [prof], data_dir=None, out_dir=tmp_path / "r")
    for r, acc in zip(rows, (0.7, 0.7)):
        r["accuracy"] = acc  # the foreign model has no labeled eval set here; the plot needs a y value
    # a third point almost on top of the first: its label must merge, not print over it
    twin = {**rows[0], "target": "tflite:int8", "p50_ms": rows[0]["p50_ms"] * 1.0001, "artifact": "twin.tflite"}
    rows.append(twin)
    paths = write_reports(rows, tmp_path / "r", {})
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'chrome'}"]
    url = paths["html"].resolve().as_uri()
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    for plot in ("latency_accuracy", "size_latency", "latency_distribution"):
        section = dom.split(f"id=\"{plot}\"", 1)[1].split("</section>", 1)[0]
        assert "<svg" in section and "<path" in section, plot
    for plot in ("latency_accuracy", "size_latency"):  # one marker per measured row: an empty plot fails here
        section = dom.split(f"id=\"{plot}\"", 1)[1].split("</section>", 1)[0]
        markers = section.split("PathCollection", 1)[1].count("<use ") if "PathCollection" in section else 0
        assert markers >= sum(r["status"] == "ok" for r in rows) > 0, (plot, markers)
    page = paths["html"].read_text()
    import re

    la = dom.split('id="latency_accuracy"', 1)[1].split("</section>", 1)[0]
    labels = re.findall(r"<text[^>]*>([^<]*t[12][^<]*)</text>", la)
    first = f"{rows[0]['target']} t{rows[0]['threads']}"
    assert any(f"{first}, tflite:int8 t1" in x for x in labels), labels  # the near-twin shares the label
    assert len(labels) == len(set(labels)) and not any(x.strip() == "tflite:int8 t1" for x in labels), labels

    assert not re.search(r"""(src|href)=["']https?:""", page) and "<script" not in page  # no CDN: opens offline
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1200,1600", f"--screenshot={shot}", url], capture_output=True,
                   timeout=120)
    from PIL import Image

    px = np.asarray(Image.open(shot).convert("L"), dtype=np.float32)
    assert px.std() > 10  # not a blank page


@pytest.mark.slow
def test_a_worker_killed_by_a_signal_is_a_row_and_the_bench_goes_on(shared: Path, sshd: dict, tmp_path: Path) -> None:
    """The device's python is a wrapper that dies of SIGSEGV on one model: a stand-in for a native crash."""
    wrapper = tmp_path / "python-that-crashes"
    wrapper.write_text(f"#!/bin/sh\ncase \"$*\" in *crash.tflite*) kill -SEGV $$;; esac\nexec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    good, bad = tmp_path / "good.tflite", tmp_path / "crash.tflite"
    good.write_bytes((shared / FOREIGN).read_bytes())
    bad.write_bytes((shared / FOREIGN).read_bytes())
    prof = _profile(tmp_path, sshd, name="crashy", python=str(wrapper))
    doc = _bench([str(bad), str(good), "--device", str(prof), "--out", str(tmp_path / "r")])
    by = {Path(r["artifact"]).name: r for r in doc["rows"]}
    assert by["crash.tflite"]["status"] == "failed" and "crashed" in by["crash.tflite"]["reason"]
    assert "killed by a signal" in by["crash.tflite"]["reason"]
    assert by["good.tflite"]["status"] == "ok" and by["good.tflite"]["p50_ms"] > 0


@pytest.mark.slow
def test_hostile_file_names_do_not_run_on_the_device(shared: Path, sshd: dict, tmp_path: Path) -> None:
    model = tmp_path / "m;touch edgetl_pwned;$(touch edgetl_pwned2)`touch edgetl_pwned3`.tflite"
    model.write_bytes((shared / FOREIGN).read_bytes())
    doc = _bench([str(model), "--device", str(_profile(tmp_path, sshd, name="hostile")), "--out", str(tmp_path / "r")])
    assert doc["rows"][0]["status"] == "ok"
    for where in (Path.home(), tmp_path, tmp_path / "remote", Path.cwd()):
        assert not list(where.glob("edgetl_pwned*")), where
    assert (tmp_path / "remote" / model.name).is_file()  # copied under its literal name


@pytest.mark.slow
def test_fan_out_over_two_ssh_devices_takes_about_the_slower_one(shared: Path, sshd: dict, tmp_path: Path) -> None:
    """Two SSH devices are measured at the same time (each still one measurement at a time): the wall time is
    about the slower device's, not the sum; --parallel 1 gives the sum."""
    model = tmp_path / "coral.tflite"
    model.write_bytes((shared / FOREIGN).read_bytes())
    slow = {"min_time_s": 1.5, "max_time_s": 3, "min_runs": 5, "max_runs": 10000}
    profs = [_profile(tmp_path, sshd, name=n, workdir=str(tmp_path / f"remote-{n}")) for n in ("pi-a", "pi-b")]
    for p in profs:
        body = json.loads(p.read_text())
        body.update(slow, repetitions=1)
        p.write_text(json.dumps(body))
    walls = {}
    for par in (1, 2):
        t0 = time.perf_counter()
        doc = _bench([str(model), "--device", str(profs[0]), "--device", str(profs[1]), "--parallel", str(par),
                      "--out", str(tmp_path / f"r{par}")])
        walls[par] = time.perf_counter() - t0
        assert [r["device"] for r in doc["rows"]] == ["pi-a", "pi-b"]
        assert all(r["status"] == "ok" for r in doc["rows"]), doc["rows"]
    assert walls[2] < 0.8 * walls[1], walls


def test_calibrate_from_own_measurements(shared: Path, tmp_path: Path) -> None:
    """A board's bench rows fed back: the calibrated profile estimates what was measured; errors name the fix."""
    from click.testing import CliRunner

    from edgetl.cli.main import cli

    model = tmp_path / "m.tflite"
    model.write_bytes((shared / FOREIGN).read_bytes())
    prof = tmp_path / "my-host.yaml"
    prof.write_text(json.dumps({"name": "my-host", "description": "this machine", "runtime": "litert",
                                "threads": [1, 2], "warmup_runs": 3, "min_runs": 10, "max_runs": 40,
                                "min_time_s": 0.2, "max_time_s": 2,
                                "hardware": {"core": "x86-64", "cores": 2, "clock_ghz": 2.1,
                                             "peak_gflops_fp32": 268.8}}))
    doc = _bench([str(model), "--device", str(prof), "--out", str(tmp_path / "report")])
    bench_json = tmp_path / "bench.json"
    bench_json.write_text(json.dumps(doc))
    runner = CliRunner()
    out = tmp_path / "my-host-calibrated.yaml"
    r = runner.invoke(cli, ["calibrate", str(bench_json), "--device", str(prof), "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.output)
    assert res["calibration"]["measurements"] == 2 and res["calibration"]["models"] == 1
    assert res["leave_one_model_out"] == []  # one model: nothing to leave out
    import yaml

    written = yaml.safe_load(out.read_text())  # the hardware facts stay the board's; the fit has its own file
    assert written["latency_calibration"] == "my-host-calibrated.calibration.json"
    assert "latency_calibration" not in written["hardware"] and written["hardware"]["cores"] == 2
    assert json.loads((tmp_path / written["latency_calibration"]).read_text())["measurements"] == 2
    measured = {row["threads"]: row["p50_ms"] for row in doc["rows"] if row["status"] == "ok"}
    for threads, ms in measured.items():
        r = runner.invoke(cli, ["inspect", str(model), "--device", str(out), "--threads", str(threads), "--json"])
        assert r.exit_code == 0, r.output
        est = json.loads(r.output)["devices"][0]["estimate"]
        assert "calibrated on 2 of its own measurements" in est["basis"]
        assert 0.7 < est["p50_ms"] / ms < 1.4, (threads, est, ms)
    # rows of another device, or a profile without CPU facts: one line that says what to do
    r = runner.invoke(cli, ["calibrate", str(bench_json), "--device", "rpi4"])
    assert r.exit_code != 0 and "no measured rows of device 'rpi4'" in str(r.exception)
    r = runner.invoke(cli, ["calibrate", str(bench_json), "--device", "host-cpu"])
    assert r.exit_code != 0 and "lacks cores, clock_ghz" in str(r.exception)
