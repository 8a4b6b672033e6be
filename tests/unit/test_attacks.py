"""Crafted inputs, made by hand as an attacker would (issue: untrusted files, round two).

Each test makes one attack and asserts the clear one-line error (or the correct result), and that nothing
was read from outside the model's folder, lost or corrupted. Commands run as a user runs them: the real
``edgetl`` CLI in a child process, with a timeout.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgetl.errors import ConfigError, DataError, ModelFileError, RuntimeBackendError

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- edgetl-test-secret 0123456789abcdef" * 4


def cli(*args: str, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "edgetl.cli.main", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode in (1, 2), proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.startswith("Error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


# ---------------------------------------------------------------- ONNX external data

def _onnx_model(path: Path, *, location: str | None, where: str = "initializer") -> Path:
    """x[1,4,4,3] -> Flatten -> MatMul(W[48,2]) -> Softmax; W stored as external data at ``location``."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    w = helper.make_tensor("W", TensorProto.FLOAT, [48, 2], np.full(96, 0.01, np.float32).tolist())
    if location is not None:
        w.ClearField("float_data")
        w.data_location = TensorProto.EXTERNAL
        for k, v in (("location", location), ("offset", "0"), ("length", str(96 * 4))):
            e = w.external_data.add()
            e.key, e.value = k, v
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 4, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    nodes = [helper.make_node("Flatten", ["x"], ["f"])]
    inits = []
    if where == "initializer":
        inits.append(w)
    elif where == "constant":
        nodes.append(helper.make_node("Constant", [], ["W"], value=w))
    elif where == "subgraph":  # the tensor hides in an If branch
        then = helper.make_graph([helper.make_node("Constant", [], ["Wt"], value=w)], "then", [],
                                 [helper.make_tensor_value_info("Wt", TensorProto.FLOAT, [48, 2])])
        other = helper.make_graph([helper.make_node("Constant", [], ["We"], value=helper.make_tensor(
            "We0", TensorProto.FLOAT, [48, 2], [0.0] * 96))], "else", [],
            [helper.make_tensor_value_info("We", TensorProto.FLOAT, [48, 2])])
        nodes.append(helper.make_node("Constant", [], ["c"], value=helper.make_tensor("c0", TensorProto.BOOL, [], [1])))
        nodes.append(helper.make_node("If", ["c"], ["W"], then_branch=then, else_branch=other))
    nodes += [helper.make_node("MatMul", ["f", "W"], ["m"]), helper.make_node("Softmax", ["m"], ["y"])]
    g = helper.make_graph(nodes, "g", [x], [y], initializer=inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path.write_bytes(m.SerializeToString())
    return path


@pytest.mark.parametrize("where", ["initializer", "constant", "subgraph"])
def test_onnx_external_data_outside_the_folder_is_refused_in_predict(tmp_path: Path, where: str) -> None:
    pytest.importorskip("onnxruntime")
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_bytes(SECRET)
    models = home / "models"
    models.mkdir()
    model = _onnx_model(models / "evil.onnx", location=".ssh/id_rsa", where=where)
    img = home / "x.png"
    from PIL import Image

    Image.new("RGB", (8, 8), (1, 2, 3)).save(img)
    proc = cli("predict", str(model), str(img), "--mean", "0", "--std", "1", "--json", cwd=home)
    line = one_line_error(proc)
    assert "external data" in line and ".ssh/id_rsa" in line
    assert "0.0" not in proc.stdout  # no scores came back


@pytest.mark.parametrize("location", ["/etc/passwd", "../secret.bin", "sub/../../secret.bin", "", "a\\..\\b",
                                      "link.bin"])
def test_onnx_external_data_locations_that_escape_are_refused(tmp_path: Path, location: str) -> None:
    from edgetl.runtime.onnx_file import check_external_data, read_onnx

    (tmp_path / "secret.bin").write_bytes(SECRET)
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "link.bin").symlink_to(tmp_path / "secret.bin")
    model = _onnx_model(folder / "evil.onnx", location=location)
    with pytest.raises(ModelFileError, match="external data"):
        check_external_data(read_onnx(model.read_bytes(), str(model)), model)
    with pytest.raises(ModelFileError):
        from edgetl.runtime import Classifier

        Classifier.load(model, mean=0.0, std=1.0)


def test_onnx_external_data_inside_the_folder_loads_from_there(tmp_path: Path) -> None:
    """A genuine split model (weights next to it) runs, and from the model's folder, not the current one."""
    pytest.importorskip("onnxruntime")
    from edgetl.runtime import Classifier

    model = _onnx_model(tmp_path / "ok.onnx", location="weights.bin")
    (tmp_path / "weights.bin").write_bytes(np.full(96, 0.01, np.float32).tobytes())
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    old = os.getcwd()
    try:
        os.chdir(elsewhere)
        clf = Classifier.load(model, mean=0.0, std=1.0)
        s = clf.scores(np.full((4, 4, 3), 10, np.uint8))
    finally:
        os.chdir(old)
    assert s.shape == (2,) and abs(float(s.sum()) - 1.0) < 1e-5


def test_inspect_on_external_data_and_broken_onnx_is_one_line(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_bytes(SECRET)
    evil = _onnx_model(tmp_path / "evil.onnx", location="../id_rsa")
    assert "external data" in one_line_error(cli("inspect", str(evil)))
    good = _onnx_model(tmp_path / "good.onnx", location=None)
    (tmp_path / "trunc.onnx").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 2])
    (tmp_path / "text.onnx").write_text("this is not a model\n" * 10)
    for name in ("trunc.onnx", "text.onnx"):
        assert "ONNX" in one_line_error(cli("inspect", str(tmp_path / name)))


def test_onnx_huge_declared_input_is_refused_before_allocating(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 60000, 60000, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 60000, 60000, 3])
    m = helper.make_model(helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y]),
                          opset_imports=[helper.make_opsetid("", 17)])
    p = tmp_path / "huge.onnx"
    onnx.save(m, p)
    from edgetl.runtime import Classifier

    with pytest.raises(ModelFileError, match="EDGETL_MAX_INPUT_ELEMENTS"):
        Classifier.load(p, mean=0.0, std=1.0)


# ---------------------------------------------------------------- labels

@pytest.mark.parametrize("bad", ["line\nbreak", "sep\u2028arator", "para\u2029graph", "bell\x07", "rtl\u202eevil",
                                 " padded"])
def test_class_folder_names_that_cannot_round_trip_are_refused(tmp_path: Path, bad: str) -> None:
    from PIL import Image

    from edgetl.data.scan import scan

    for name in ("roses", bad):
        (tmp_path / name).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / name / "a.png")
    with pytest.raises(DataError, match="Rename the folder"):
        scan(tmp_path)


def test_contract_with_more_labels_than_outputs_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from edgetl.runtime import Classifier

    model = _onnx_model(tmp_path / "m.onnx", location=None)
    with pytest.raises(RuntimeBackendError, match="3 labels for 2 model outputs"):
        Classifier.load(model, mean=0.0, std=1.0, labels=["a", "b", "c"])
    # a labels file splits on \n only: a U+2028 inside a name keeps it one label
    lf = tmp_path / "labels.txt"
    lf.write_text("daisy\u2028line\nroses\n", encoding="utf-8")
    clf = Classifier.load(model, mean=0.0, std=1.0, labels=lf)
    assert clf.labels == ("daisy\u2028line", "roses")


def test_skip_list_survives_file_names_with_line_breaks(tmp_path: Path) -> None:
    from PIL import Image

    from edgetl.data.cache import decode_dataset
    from edgetl.data.scan import scan

    for c in ("a", "b"):
        (tmp_path / "d" / c).mkdir(parents=True)
        for i in range(2):
            Image.new("RGB", (8, 8), (i, 0, 0)).save(tmp_path / "d" / c / f"{i}.png")
    (tmp_path / "d" / "a" / "bro\nken\u2028.png").write_bytes(b"not an image")
    for _ in range(2):  # the second run reads the skip list from the cache
        ds = scan(tmp_path / "d")
        dec = decode_dataset(ds, 8, cache_dir=tmp_path / "cache", progress=False)
        assert dec.pixels.shape[0] == 4 and len(ds.skipped) == 1 and ds.skipped[0][0].endswith("bro\nken\u2028.png")


# ---------------------------------------------------------------- YAML

BOMB = "a: &a [" + ",".join(["lol"] * 9) + "]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [" + ",".join([f"*{chr(97 + i)}"] * 9) + "]\n" for i in range(8))


def test_yaml_alias_bomb_is_refused_by_every_loader(tmp_path: Path) -> None:
    assert len(BOMB) < 700
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    from edgetl.config import load_yaml
    from edgetl.devices import DeviceProfile

    with pytest.raises(ConfigError, match="anchors|aliases"):
        load_yaml(bomb)
    with pytest.raises(ConfigError, match="anchors|aliases"):
        DeviceProfile.from_yaml(bomb)
    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError):
        load_yaml(deep)
    big = tmp_path / "big.yaml"
    big.write_text("a: " + "x" * (2 << 20) + "\n")
    with pytest.raises(ConfigError, match="EDGETL_MAX_CONFIG_BYTES"):
        load_yaml(big)


@pytest.mark.parametrize("args", [("pipeline", "{f}"), ("train", "--config", "{f}"), ("export", "run", "--config", "{f}"),
                                  ("devices", "show", "{f}"), ("bench", "x.tflite", "--device", "{f}")])
def test_yaml_alias_bomb_fails_fast_in_every_command(tmp_path: Path, args: tuple[str, ...]) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    (tmp_path / "x.tflite").write_bytes(b"\0" * 64)
    proc = cli(*[a.format(f=bomb) for a in args], cwd=tmp_path, timeout=20)
    assert "alias" in one_line_error(proc) or "anchor" in proc.stderr


def test_connect_timeout_is_validated(tmp_path: Path) -> None:
    from edgetl.devices import DeviceProfile

    for bad in ("-1", "0", "1e9", "'x'", "true"):
        with pytest.raises(ConfigError, match="connect_timeout_s"):
            DeviceProfile.from_dict({"name": "p", "description": "d", "runtime": "litert",
                                     "access": {"kind": "local", "connect_timeout_s": __import__("yaml").safe_load(bad)}},
                                    source="p.yaml")


# ---------------------------------------------------------------- images and memory

def test_sixteen_bit_greyscale_converts_without_float64(tmp_path: Path) -> None:
    from PIL import Image

    from edgetl.runtime.image import load_array

    arr = (np.arange(64 * 64, dtype=np.uint32).reshape(64, 64) * 16).astype(np.uint16)
    Image.fromarray(arr).save(tmp_path / "g16.png")
    out = load_array(tmp_path / "g16.png", 64)
    expect = np.rint(arr.astype(np.float64) / arr.max() * 255).astype(np.uint8)
    assert out.shape == (64, 64, 3) and np.abs(out[..., 0].astype(int) - expect).max() <= 1


def _peak_rss_of(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess, float]:
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "sys.stdout.write(p.stdout); sys.stderr.write(p.stderr); "
            "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(p.returncode)")
    proc = subprocess.run([sys.executable, "-c", code, sys.executable, "-m", "edgetl.cli.main", *args],
                          capture_output=True, text=True, timeout=60, cwd=cwd)
    peak = float(proc.stdout.rsplit("PEAK", 1)[1]) / 1024
    return proc, peak


def test_decompression_bomb_png_is_refused_with_bounded_memory(tmp_path: Path) -> None:
    """A small 16-bit PNG of 13000 x 13000 pixels: refused by the pixel limit before decoding."""
    pytest.importorskip("onnxruntime")
    import struct
    import zlib

    w = h = 13000
    raw = zlib.compress(b"".join(b"\0" + b"\0" * (2 * w) for _ in range(h)), 9)

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 0, 0, 0, 0)) + chunk(
        b"IDAT", raw) + chunk(b"IEND", b"")
    assert len(png) < 10 << 20
    (tmp_path / "bomb.png").write_bytes(png)
    model = _onnx_model(tmp_path / "m.onnx", location=None)
    proc, peak = _peak_rss_of("predict", str(model), str(tmp_path / "bomb.png"), "--mean", "0", "--std", "1",
                              "--json", cwd=tmp_path)
    rows = json.loads(proc.stdout.rsplit("PEAK", 1)[0])
    assert "EDGETL_MAX_IMAGE_PIXELS" in rows[0]["error"] and proc.returncode != 0
    assert peak < 1500, peak


def test_keras_zip_bomb_is_refused_before_keras_reads_it(tmp_path: Path) -> None:
    p = tmp_path / "bomb.keras"
    with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("config.json", "w", force_zip64=True) as f:
            block = b" " * (1 << 20)
            for _ in range(1024):
                f.write(block)
        zf.writestr("metadata.json", "{}")
    assert p.stat().st_size < 10 << 20
    from edgetl.model_io import check_keras_archive

    with pytest.raises(ModelFileError, match="config.json"):
        check_keras_archive(p)


def test_eps_named_jpg_never_reaches_ghostscript(tmp_path: Path) -> None:
    from edgetl.runtime.image import ImageDecodeError, load_rgb

    eps = tmp_path / "photo.jpg"
    eps.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    with pytest.raises(ImageDecodeError, match="cannot identify"):
        load_rgb(eps, 8)


# ---------------------------------------------------------------- markup and control characters

@pytest.mark.parametrize("name", ["[/x].png", "[red]tulip.png", "a\x1b[2Jb.png", ":smile:.png"])
def test_untrusted_names_print_literally(tmp_path: Path, name: str) -> None:
    pytest.importorskip("onnxruntime")
    from PIL import Image

    (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)  # "[/x].png" is the file "x].png" in folder "["
    Image.new("RGB", (8, 8), (200, 10, 10)).save(tmp_path / name, format="PNG")
    model = _onnx_model(tmp_path / "m.onnx", location=None)
    proc = cli("predict", str(model), str(tmp_path / name), "--mean", "0", "--std", "1", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    from edgetl.cli.console import plain

    assert plain(name) in proc.stdout and "\x1b" not in proc.stdout


# ---------------------------------------------------------------- TFLite indices

def test_tflite_with_bad_input_or_output_index_is_one_line(tmp_path: Path, shared: Path) -> None:
    import struct

    from edgetl.runtime.tflite_file import _Reader

    src = (shared / "models" / "tf2_mobilenet_v2_1.0_224_ptq.tflite").read_bytes()
    r = _Reader(src, "m")
    root = r.deref(0)
    s_start, _ = r.vector(root, 2)
    sg = r.deref(s_start)
    for field, value in ((1, 99999), (1, -5), (2, 123456)):
        start, n = r.vector(sg, field)
        data = bytearray(src)
        struct.pack_into("<i", data, start, value)
        p = tmp_path / f"bad{field}_{value}.tflite"
        p.write_bytes(bytes(data))
        assert "outside" in one_line_error(cli("inspect", str(p)))
        assert "outside" in one_line_error(cli("predict", str(p), str(p), "--mean", "0", "--std", "1"))
