"""Crafted inputs, round three (issue 28): ownership of what edgetl deletes, reads outside the model's folder,
memory and time from small inputs, tracebacks, wrong results without a word, reports, signals and full disks.

Tests are grouped by class of failure, not by file. Each asserts a one-line error naming the file (or the
correct result) and that nothing the user made was deleted, nothing outside the model's folder was read.
"""
from __future__ import annotations

import base64
import io
import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from edgetl.errors import ConfigError, DataError, ModelFileError, WeightsError
from tests.unit.test_attacks import _onnx_model, cli, one_line_error

KEY = "0123456789ab"
OLD = "fedcba987654"


def _stage(rd: Path, stage: str, key: str, files: dict[str, str] | None = None) -> Path:
    d = rd / f"{stage}-{key}"
    d.mkdir(parents=True)
    (d / "stage.json").write_text(json.dumps({"schema": 1, "stage": stage, "key": key, "outputs": {}}))
    for name, body in (files or {}).items():
        (d / name).write_text(body)
    return d


def _edgetl_run(rd: Path) -> None:
    _stage(rd, "train", KEY, {"model.keras": "k"})
    _stage(rd, "export_tflite_int8", KEY, {"model_int8.tflite": "new", "model_int8.tflite.json": "{}"})
    _stage(rd, "export_tflite_int8", OLD, {"model_int8.tflite": "old"})
    (rd / "run.json").write_text(json.dumps({"schema": 1, "tool": "edgetl", "stages": {"train": {"dir": f"train-{KEY}"}},
                                             "exports": {"tflite:int8": {"path": f"export_tflite_int8-{KEY}/model_int8.tflite",
                                                                         "status": "ok", "train_stage": f"train-{KEY}"}}}))


def _user_files(rd: Path) -> list[Path]:
    made = []
    for rel in ("my-photos/cat.jpg", "2024-notes/todo.txt", "backup-abcdef123456/x.txt", "train-zzz/mine.txt"):
        (rd / rel).parent.mkdir(parents=True, exist_ok=True)
        (rd / rel).write_text("the user's own file")
        made.append(rd / rel)
    return made


# ---------------------------------------------------------------- 1. data loss

def test_clean_removes_only_folders_edgetl_proves_it_made(tmp_path: Path) -> None:
    _edgetl_run(tmp_path)
    mine = _user_files(tmp_path)
    dead = tmp_path / f"export_onnx_fp32-{KEY}.tmp-999999"
    dead.mkdir()
    (dead / ".edgetl-tmp").write_text("999999\n")
    unmarked = tmp_path / f"export_onnx_fp32-{KEY}.tmp-999998"  # right name, no marker: not provably edgetl's
    unmarked.mkdir()
    proc = cli("clean", str(tmp_path), "--dry-run", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = {Path(d["path"]).name: d["why"] for d in json.loads(proc.stdout)}
    assert set(listed) == {f"export_tflite_int8-{OLD}", dead.name}
    assert "stage.json" in listed[f"export_tflite_int8-{OLD}"] and "no longer running" in listed[dead.name]
    assert cli("clean", str(tmp_path)).returncode == 0
    assert all(p.read_text() == "the user's own file" for p in mine) and unmarked.is_dir()
    assert not (tmp_path / f"export_tflite_int8-{OLD}").exists() and not dead.exists()
    assert (tmp_path / f"export_tflite_int8-{KEY}" / "model_int8.tflite").is_file()


@pytest.mark.parametrize("doc", [[], {"name": "other-tool", "stages": {}}, {"tool": "dvc"}, "x", 3,
                                 {"stages": {"train": {"dir": "../../home"}}},
                                 {"exports": {"t": {"path": "/etc/passwd"}}},
                                 {"exports": {"t": {"path": f"train-{KEY}/../../../etc/passwd"}}}])
def test_foreign_or_hostile_run_json_deletes_nothing(tmp_path: Path, doc: object) -> None:
    mine = _user_files(tmp_path)
    _stage(tmp_path, "train", OLD)
    (tmp_path / "run.json").write_text(json.dumps(doc))
    for args in (("clean", str(tmp_path)), ("artifacts", str(tmp_path)), ("export", str(tmp_path))):
        assert "run.json" in one_line_error(cli(*args))
    assert all(p.is_file() for p in mine) and (tmp_path / f"train-{OLD}").is_dir()


def test_clean_cache_needs_edgetls_tag_and_keeps_other_files(tmp_path: Path) -> None:
    from edgetl.runs import mark_cache

    home = tmp_path / "home"  # a user who pointed EDGETL_CACHE_DIR at a folder of their own
    (home / "datasets").mkdir(parents=True)
    (home / "datasets" / "thesis.csv").write_text("mine")
    mark_cache(home)  # not empty: no tag is written
    env = {**os.environ, "EDGETL_CACHE_DIR": str(home)}
    proc = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "clean", "--cache"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert "CACHEDIR.TAG" in one_line_error(proc) and (home / "datasets" / "thesis.csv").is_file()
    cache = mark_cache(tmp_path / "cache")
    for sub in ("decoded", "features"):
        (cache / sub).mkdir()
        (cache / sub / "x.npy").write_bytes(b"0" * 10)
    (cache / "notes.txt").write_text("not a cache folder")
    env["EDGETL_CACHE_DIR"] = str(cache)
    proc = subprocess.run([sys.executable, "-m", "edgetl.cli.main", "clean", "--cache"], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in cache.iterdir()) == ["CACHEDIR.TAG", "notes.txt"]


def test_artifacts_and_bench_of_the_user_are_never_replaced(tmp_path: Path) -> None:
    from edgetl.runs import link_latest, publish_artifacts

    _edgetl_run(tmp_path)
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "slides.pdf").write_text("mine")
    out = publish_artifacts(tmp_path)
    assert (out / "model_int8.tflite").read_text() == "new" and (out / "slides.pdf").read_text() == "mine"
    (out / "model_int8.tflite").unlink()
    (out / "model_int8.tflite").write_text("the user's own model")  # the user's file under edgetl's name
    (out / ".edgetl-artifacts.json").unlink()
    with pytest.raises(ConfigError, match="did not put there"):
        publish_artifacts(tmp_path)
    assert (out / "model_int8.tflite").read_text() == "the user's own model"
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "results.xlsx").write_text("mine")
    target = _stage(tmp_path, "bench", KEY)
    with pytest.raises(ConfigError, match="did not make"):
        link_latest(bench, target)
    assert (bench / "results.xlsx").read_text() == "mine"
    (bench / "results.xlsx").unlink()
    bench.rmdir()
    os.symlink("/home", bench)
    with pytest.raises(ConfigError, match="did not make"):
        link_latest(bench, target)
    bench.unlink()
    link_latest(bench, target)
    assert os.readlink(bench) == target.name


def test_a_foreign_non_empty_run_dir_is_refused(tmp_path: Path, color_dataset: Path) -> None:
    user = tmp_path / "Documents"
    _user_files(user)
    err = one_line_error(cli("train", "--data", str(color_dataset), "--out", str(user), "--weights", "none"))
    assert "did not make" in err and str(user) in err
    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"run_dir: {user}\ntrain: {{data: {color_dataset}, weights: none}}\n")
    assert "did not make" in one_line_error(cli("pipeline", str(cfg)))
    assert sorted(p.name for p in user.iterdir()) == sorted(["2024-notes", "backup-abcdef123456", "my-photos",
                                                             "train-zzz"])


# ---------------------------------------------------------------- 2. reads outside the model's folder

def _contracted_onnx(folder: Path, extra: dict | None = None, **over: object) -> Path:
    from edgetl.runtime.contract import Contract, sidecar_path

    folder.mkdir(parents=True, exist_ok=True)
    model = _onnx_model(folder / "m.onnx", location=None)
    doc = Contract(input_shape=(1, 4, 4, 3), labels=("a", "b"), format="onnx", precision="fp32",
                   output_shape=(1, 2)).to_dict()
    doc.update(extra or {})
    for k, v in over.items():
        doc["input"][k] = v
    sidecar_path(model).write_text(json.dumps(doc))
    return model


def test_contract_source_cannot_point_bench_at_photos_elsewhere(tmp_path: Path) -> None:
    from PIL import Image

    from edgetl.bench.runner import collect

    elsewhere = tmp_path / "victim" / f"train-{KEY}"
    elsewhere.mkdir(parents=True)
    photo = tmp_path / "victim" / "private.png"
    Image.new("RGB", (8, 8)).save(photo)
    (elsewhere / "split.json").write_text(json.dumps({"val": [str(photo)], "val_labels": [0]}))
    model = _contracted_onnx(tmp_path / "model", {"source": {"run_dir": str(tmp_path / "victim"),
                                                             "train_stage": f"train-{KEY}"}})
    (art,) = collect([str(model)])
    assert art.eval_paths == () and art.eval_labels == ()
    # the same split inside the model's own run folder is used
    own = tmp_path / "run"
    (own / f"train-{KEY}").mkdir(parents=True)
    (own / f"train-{KEY}" / "split.json").write_text(json.dumps({"val": [str(photo)], "val_labels": [0]}))
    model = _contracted_onnx(own / f"export_onnx_fp32-{KEY}", {"source": {"run_dir": str(own),
                                                                          "train_stage": f"train-{KEY}"}})
    (art,) = collect([str(model)])
    assert art.eval_paths == (str(photo),)


# ---------------------------------------------------------------- 3. memory and 4. hangs

def _png(w: int, h: int) -> bytes:
    import zlib

    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    raw = zlib.compress(b"".join(b"\0" + b"\0" * (3 * w) for _ in range(h)), 9)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + chunk(
        b"IDAT", raw) + chunk(b"IEND", b"")


@pytest.mark.parametrize("key", ["jpeg_base64", "png_base64"])  # what export writes now, and what it wrote before
@pytest.mark.parametrize("kind", ["bomb", "tiff", "garbage", "not-base64"])
def test_golden_images_go_through_the_image_limits(tmp_path: Path, kind: str, key: str) -> None:
    pytest.importorskip("onnxruntime")
    from PIL import Image

    if kind == "bomb":
        data = base64.b64encode(_png(12000, 12000)).decode()
    elif kind == "tiff":
        buf = io.BytesIO()
        Image.new("RGB", (4, 4)).save(buf, format="TIFF")
        data = base64.b64encode(buf.getvalue()).decode()
    else:
        data = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\xff" * 64).decode() if kind == "garbage" else "@@@!!"
    model = _contracted_onnx(tmp_path, {"golden": [{"name": "g", key: data, "scores": [0.5, 0.5],
                                                    "top1": 0}]})
    assert len(data) < 4 << 20
    t0 = time.perf_counter()
    err = one_line_error(cli("predict", str(model), "--selftest"))
    assert "golden" in err and time.perf_counter() - t0 < 30


@pytest.mark.parametrize("golden", [[{"scores": "x", "top1": 0}], [{"scores": [1e400, 0], "top1": 0}],
                                    [{"scores": [0.1, 0.9], "top1": 7}], [{"scores": [0.1, 0.9, 0.0], "top1": 0}],
                                    [1, 2], {"a": 1}])
def test_malformed_golden_entries_are_one_line(tmp_path: Path, golden: object) -> None:
    pytest.importorskip("onnxruntime")
    model = _contracted_onnx(tmp_path, {"golden": golden})
    assert "contract" in one_line_error(cli("predict", str(model), "--selftest"))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_fifos_named_like_inputs_are_refused_at_once(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    model = _contracted_onnx(tmp_path / "m")
    photo, bench = tmp_path / "photo.jpg", tmp_path / "bench.json"
    os.mkfifo(photo)
    os.mkfifo(bench)
    proc = cli("predict", str(model), str(photo), "--json", timeout=60)
    assert "FIFO" in json.dumps(json.loads(proc.stdout)) and proc.returncode != 0
    assert "FIFO" in one_line_error(cli("calibrate", str(bench), "--device", "rpi4", timeout=60))
    data = tmp_path / "texts.csv"
    os.mkfifo(data)
    from edgetl.text.data import load_texts

    with pytest.raises(DataError, match="FIFO"):
        load_texts(data)


def test_sparse_huge_file_in_a_class_folder_is_hashed_without_reading_it(tmp_path: Path) -> None:
    from PIL import Image

    from edgetl.data.scan import scan

    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        Image.new("RGB", (8, 8)).save(tmp_path / c / "x.png")
    with open(tmp_path / "a" / "huge.jpg", "wb") as f:
        f.truncate(6 << 30)  # 6 GiB of holes: no disk used
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    h = scan(tmp_path).content_hash()
    assert time.perf_counter() - t0 < 10 and len(h) >= 16
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300 << 10  # KiB: under 300 MB grown


def test_long_single_line_csv_is_one_line_error_with_bounded_memory(tmp_path: Path) -> None:
    from edgetl.text.data import load_texts

    p = tmp_path / "t.csv"
    p.write_text("text,label\n\"" + "x" * (3 << 20) + "\n")  # an unclosed quote: one 3 MB cell
    with pytest.raises(DataError, match="t.csv.*longer than"):
        load_texts(p)


def test_deeply_nested_jsonl_rows_are_skipped(tmp_path: Path) -> None:
    from edgetl.text.data import load_texts

    p = tmp_path / "t.jsonl"
    rows = [json.dumps({"text": f"hello {i}", "label": "ab"[i % 2]}) for i in range(6)]
    p.write_text("\n".join(rows + ["[" * 200_000 + "]" * 200_000, "{\"text\": " + "[" * 100_000]) + "\n")
    ds = load_texts(p)
    assert len(ds.texts) == 6 and len(ds.skipped) == 2


def test_tokenizer_settings_from_a_contract_are_bounded(tmp_path: Path) -> None:
    from edgetl.runtime.tokenizer import WordPieceTokenizer

    vocab = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "##a")
    with pytest.raises(ValueError, match="max_word_chars"):
        WordPieceTokenizer(vocab, max_word_chars=10**7)
    with pytest.raises(ValueError, match="max_length"):
        WordPieceTokenizer(vocab, max_length=10**9)
    tok = WordPieceTokenizer(vocab, max_word_chars=200, max_length=4096)
    t0 = time.perf_counter()
    ids = tok.encode(" ".join(["a" * 200] * 400))
    assert time.perf_counter() - t0 < 5 and len(ids) == 4096


@pytest.mark.parametrize("change", [{"num_hidden_layers": 10**6}, {"hidden_size": 10**7}, {"vocab_size": -1},
                                    {"intermediate_size": "big"}, {"layer_norm_eps": 0.0}, {"hidden_size": 31}])
def test_absurd_encoder_config_is_refused_before_building(tmp_path: Path, change: dict) -> None:
    from edgetl.text.encoder import BertConfig
    from tests.conftest import make_tiny_bert

    folder = make_tiny_bert(tmp_path / "bert")
    cfg = json.loads((folder / "config.json").read_text())
    cfg.update(change)
    (folder / "config.json").write_text(json.dumps(cfg))
    t0 = time.perf_counter()
    with pytest.raises(WeightsError, match="config.json"):
        BertConfig.from_folder(folder)
    assert time.perf_counter() - t0 < 2


def _safetensors(header: object) -> bytes:
    h = json.dumps(header).encode() if not isinstance(header, bytes) else header
    return struct.pack("<Q", len(h)) + h + b"\0" * 64


@pytest.mark.parametrize("header", [[1, 2], {"w": "x"}, {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1e400]}},
                                    {"w": {"dtype": 7, "shape": [4], "data_offsets": [0, 16]}},
                                    {"w": {"dtype": "F32", "shape": ["4"], "data_offsets": [0, 16]}},
                                    b"[" * 100_000 + b"]" * 100_000, b"\xff\xfe{}"])
def test_hostile_safetensors_headers_are_one_line(tmp_path: Path, header: object) -> None:
    from edgetl.text.encoder import read_safetensors

    p = tmp_path / "model.safetensors"
    p.write_bytes(_safetensors(header))
    with pytest.raises(WeightsError, match="model.safetensors"):
        read_safetensors(p)


@pytest.mark.parametrize("vocab", [b"hello\nworld\n", b"[PAD]\n[UNK]\n\xff\xfe\n[CLS]\n[SEP]\n"])
def test_vocabularies_without_specials_or_not_utf8_are_one_line(tmp_path: Path, vocab: bytes) -> None:
    from edgetl.text.train import load_tokenizer

    (tmp_path / "vocab.txt").write_bytes(vocab)
    with pytest.raises(WeightsError, match="vocab.txt"):
        load_tokenizer(tmp_path, 16)


def test_a_vocabulary_longer_than_the_embeddings_is_refused(tmp_path: Path) -> None:
    from edgetl.text.train import load_tokenizer

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]"] + [f"w{i}" for i in range(20)]))
    with pytest.raises(WeightsError, match="embeddings"):
        load_tokenizer(tmp_path, 16, vocab_size=8)


@pytest.mark.slow  # over 5 s (benchmarks/results/test_timing.json): CI runs it with -m slow
def test_calibrate_reads_a_large_bench_file_once_per_model(tmp_path: Path, shared: Path) -> None:
    model = shared / "models" / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
    rows = [{"device": "rpi4", "status": "ok", "artifact": str(model), "p50_ms": 50.0 + i % 7, "threads": 1 + i % 4}
            for i in range(20_000)]
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps({"rows": rows}))
    t0 = time.perf_counter()
    proc = cli("calibrate", str(bench), "--device", "rpi4", "--out", str(tmp_path / "cal.yaml"), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert time.perf_counter() - t0 < 60


# ---------------------------------------------------------------- 5. tracebacks / 6. wrong results without a word

@pytest.mark.parametrize("bad", [0.0, 1e-9, 1e30, float("nan")])
def test_contract_with_zero_or_absurd_std_is_refused(tmp_path: Path, bad: float) -> None:
    pytest.importorskip("onnxruntime")
    model = _contracted_onnx(tmp_path, std=[bad] * 3)
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "x.png")
    proc = cli("predict", str(model), str(tmp_path / "x.png"), "--json")
    assert "std" in (proc.stdout + proc.stderr) and "NaN" not in proc.stdout and proc.returncode != 0


def test_json_output_never_prints_nan() -> None:
    from edgetl.cli.options import json_safe

    doc = json.dumps(json_safe({"a": float("nan"), "b": [float("inf"), 1.5], "c": np.float32("nan")}),
                     allow_nan=False)
    assert json.loads(doc) == {"a": None, "b": [None, 1.5], "c": None}


@pytest.mark.parametrize("p50", ["Infinity", "-1", "NaN", "1e400", "true"])
def test_calibrate_ignores_rows_that_are_no_measurement(tmp_path: Path, shared: Path, p50: str) -> None:
    model = shared / "models" / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
    bench = tmp_path / "bench.json"
    bench.write_text('{"rows": [{"device": "rpi4", "status": "ok", "artifact": ' + json.dumps(str(model)) +
                     f', "p50_ms": {p50}, "threads": 1}}]}}')
    err = one_line_error(cli("calibrate", str(bench), "--device", "rpi4", "--out", str(tmp_path / "c.yaml")))
    assert "no measured rows" in err and not (tmp_path / "c.yaml").exists()


def _with_external_buffer(src: bytes, offset: int, size: int) -> bytes:
    """The model with one buffer table rewritten to the >2 GB layout (fields offset and size), in place: the
    table's vtable gets entries for fields 1 and 2 pointing at 16 bytes appended after the table's data."""
    import flatbuffers  # noqa: F401  (the TFLite schema's own library; its presence is all we need)

    from edgetl.runtime.tflite_file import _Reader

    r = _Reader(src, "m")
    root = r.deref(0)
    b_start, b_len = r.vector(root, 4)
    data = bytearray(src)
    # a new vtable and table at the end of the file: vtable [8 bytes vt, 4+16 table] then the table
    vt_pos = len(data) + (-len(data)) % 8
    data += b"\0" * (vt_pos - len(data))
    vtable = struct.pack("<HHHHH", 10, 24, 0, 8, 16) + b"\0\0"
    data += vtable
    table = len(data)
    data += struct.pack("<i", table - vt_pos) + b"\0" * 4 + struct.pack("<QQ", offset, size)
    struct.pack_into("<I", data, b_start + 4 * (b_len - 1), table - (b_start + 4 * (b_len - 1)))
    return bytes(data)


def test_tflite_buffer_past_the_end_is_refused_by_inspect(tmp_path: Path, shared: Path) -> None:
    pytest.importorskip("flatbuffers")
    src = (shared / "models" / "tf2_mobilenet_v2_1.0_224_ptq.tflite").read_bytes()
    p = tmp_path / "m.tflite"
    p.write_bytes(_with_external_buffer(src, len(src) * 4, 1 << 20))
    assert "past the end" in one_line_error(cli("inspect", str(p)))
    p.write_bytes(_with_external_buffer(src, 0, 4096))
    assert "no place" in one_line_error(cli("inspect", str(p)))


# ---------------------------------------------------------------- 7. reports, signals, full disks

def test_report_names_are_plain_text_and_csv_cells_are_not_formulas(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from edgetl.bench.report import csv_cell, plots

    row = {"status": "ok", "p50_ms": 3.0, "accuracy": 0.9, "size_bytes": 1000, "threads": 1,
           "latencies_ms": [3.0, 3.1], "device": "$\\frac{a}{$ ^_^ $x_{", "target": "=HYPERLINK(\"x\")"}
    figs = plots([row, {**row, "device": "a$b$c\\", "p50_ms": 2.0}])
    assert all("<svg" in v for v in figs.values()) and "frac" in figs["latency_accuracy"]
    assert [csv_cell(v) for v in ("=1+1", "+x", "-x", "@x", "\tx", "ok", -1.5, 3)] == [
        "'=1+1", "'+x", "'-x", "'@x", "'\tx", "ok", -1.5, 3]


def test_long_labels_are_clipped_in_tables() -> None:
    from edgetl.cli.console import esc

    s = esc("x" * 2_000_000)
    assert len(s) < 500 and "chars" in s


_STAGE_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from edgetl.cli.main import _install_signal_handlers, Terminated
    from edgetl.pipeline import run_stage

    class Slow:
        name = "slow"
        version = 1
        def tool_versions(self):
            return {}
        def run(self, inputs, config, ctx):
            (ctx.out_dir / "part.bin").write_bytes(b"0" * 1000)
            print("started", flush=True)
            if sys.argv[2] == "enospc":
                raise RuntimeError("keras failed") from OSError(28, "No space left on device")
            time.sleep(60)
            return {}

    class Cfg:
        def to_dict(self):
            return {}

    _install_signal_handlers()
    try:
        run_stage(Slow(), {}, Cfg(), Path(sys.argv[1]))
    except Terminated:
        print("terminated", flush=True)
        sys.exit(143)
    except Exception as exc:
        print(type(exc).__name__, exc, flush=True)
        sys.exit(1)
""")


def test_sigterm_removes_temporary_folders(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text(_STAGE_SCRIPT)
    p = subprocess.Popen([sys.executable, str(script), str(tmp_path / "run"), "sleep"], stdout=subprocess.PIPE,
                         text=True, cwd=Path(__file__).resolve().parents[2])
    assert p.stdout is not None and p.stdout.readline().strip() == "started"
    assert list((tmp_path / "run").glob("slow-*.tmp-*"))
    p.send_signal(signal.SIGTERM)
    out, _ = p.communicate(timeout=30)
    assert p.returncode == 143 and "terminated" in out
    assert not list((tmp_path / "run").glob("slow-*"))


def test_a_full_disk_is_one_line_naming_the_folder(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text(_STAGE_SCRIPT)
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "run"), "enospc"], capture_output=True,
                          text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 1
    assert "DiskFullError" in proc.stdout and "disk is full" in proc.stdout and str(tmp_path / "run") in proc.stdout
    assert "Free at least" in proc.stdout and not list((tmp_path / "run").glob("slow-*"))


def test_a_first_run_killed_before_run_json_can_resume(tmp_path: Path) -> None:
    """Only edgetl's own leftovers (a marked temporary folder, a finished stage, the locks): not foreign."""
    from edgetl.runs import check_run_dir

    tmp = tmp_path / f"train-{KEY}.tmp-12345"
    tmp.mkdir()
    (tmp / ".edgetl-tmp").write_text("12345\n")
    _stage(tmp_path, "train", OLD)
    (tmp_path / ".locks").mkdir()
    check_run_dir(tmp_path)
    (tmp_path / "thesis.docx").write_text("mine")
    with pytest.raises(ConfigError, match="thesis.docx"):
        check_run_dir(tmp_path)


def test_links_in_a_run_folder_cannot_lead_bench_or_publish_outside(tmp_path: Path) -> None:
    from edgetl.bench.runner import collect
    from edgetl.runs import publish_artifacts

    _edgetl_run(tmp_path)
    secret = tmp_path.parent / f"{tmp_path.name}-secret.tflite"
    secret.write_bytes(b"TFL3 secret")
    model = tmp_path / f"export_tflite_int8-{KEY}" / "model_int8.tflite"
    model.unlink()
    os.symlink(secret, model)
    with pytest.raises(ConfigError, match="outside the run folder"):
        collect([str(tmp_path)])
    with pytest.raises(ConfigError, match="outside the run folder"):
        publish_artifacts(tmp_path)
    assert "outside the run folder" in one_line_error(cli("artifacts", str(tmp_path)))
