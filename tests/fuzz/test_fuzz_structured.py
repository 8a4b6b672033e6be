"""Structured attacks, beside the byte flips of test_fuzz_loaders: inputs built the way an attacker builds them.

- external-data locations made of '..', absolute prefixes, links and plain names, in ONNX models;
- YAML documents with anchors, aliases, merge keys and deep nesting;
- decompression bombs: PNG headers that declare many pixels over tiny data;
- markup and control characters in the text edgetl prints;
- label names with every Unicode line separator.

Each property: edgetl's own one-line error or a correct result; never another exception, a read outside the
model's folder, or a hang. ``EDGETL_FUZZ_EXAMPLES`` sets the number of cases (150 in CI).
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetl.errors import ConfigError, DataError, ModelFileError

EXAMPLES = int(os.environ.get("EDGETL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))

parts = st.sampled_from(["..", ".", "", "secret.bin", "w.bin", "sub", "link", "/etc", "/", "~", "a\\b", "C:",
                         "%2e%2e", "\x00"])
locations = st.lists(parts, min_size=1, max_size=6).map("/".join)


def _model_with_location(location: str) -> bytes:
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[2])
    w.data_location = TensorProto.EXTERNAL
    e = w.external_data.add()
    e.key, e.value = "location", location
    g = helper.make_graph([helper.make_node("Identity", ["W"], ["y"])], "g", [],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], initializer=[w])
    return helper.make_model(g).SerializeToString()


@FUZZ
@given(location=locations)
def test_external_data_never_resolves_outside_the_folder(tmp_path_factory: pytest.TempPathFactory,
                                                         location: str) -> None:
    from edgetl.runtime.onnx_file import check_external_data, read_onnx

    root = tmp_path_factory.mktemp("ext")
    (root / "secret.bin").write_bytes(b"SECRET")
    folder = root / "models"
    (folder / "sub").mkdir(parents=True)
    (folder / "w.bin").write_bytes(b"\0" * 8)
    (folder / "sub" / "w.bin").write_bytes(b"\0" * 8)
    if not (folder / "link").exists():
        (folder / "link").symlink_to(root)
    model = folder / "m.onnx"
    data = _model_with_location(location)
    model.write_bytes(data)
    try:
        files = check_external_data(read_onnx(data, str(model)), model)
    except ModelFileError:
        return
    for f in files:  # what was allowed is a plain file inside the folder, reached without a link
        real = f.resolve()
        assert folder.resolve() in real.parents and real.is_file() and not f.is_symlink()
        assert "link" not in Path(location).parts


@st.composite
def yaml_docs(draw: st.DrawFn) -> str:
    names = ["a", "b", "c"]
    lines = []
    for i, n in enumerate(names):
        kind = draw(st.sampled_from(["anchor", "alias", "merge", "deep", "plain"]))
        if kind == "anchor":
            lines.append(f"{n}: &{n} [x, y]")
        elif kind == "alias" and i:
            lines.append(f"{n}: [*{names[i - 1]}, *{names[i - 1]}]")
        elif kind == "merge" and i:
            lines.append(f"{n}: {{<<: *{names[i - 1]}}}")
        elif kind == "deep":
            depth = draw(st.integers(1, 400))
            lines.append(f"{n}: " + "[" * depth + "]" * depth)
        else:
            lines.append(f"{n}: {draw(st.sampled_from(['1', 'x', '!!binary aGk=', '1e400', '0x' + 'f' * 30]))}")
    return "\n".join(lines) + "\n"


@FUZZ
@given(doc=yaml_docs())
def test_yaml_loading_is_bounded(tmp_path_factory: pytest.TempPathFactory, doc: str) -> None:
    from edgetl.config import load_yaml

    p = tmp_path_factory.mktemp("yaml") / "c.yaml"
    p.write_text(doc)
    try:
        data = load_yaml(p)
    except ConfigError:
        return
    assert "&" not in doc and "*" not in doc  # anything with anchors or aliases must have been refused
    assert isinstance(data, dict)


def _png(w: int, h: int, depth: int, color: int, payload: bytes) -> bytes:
    def chunk(t: bytes, d: bytes) -> bytes:
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(payload)) + chunk(b"IEND", b""))


@FUZZ
@given(w=st.integers(1, 1 << 20), h=st.integers(1, 1 << 20), depth=st.sampled_from([1, 8, 16]),
       color=st.sampled_from([0, 2, 4, 6]), payload=st.binary(max_size=64))
def test_declared_image_size_is_bounded(tmp_path_factory: pytest.TempPathFactory, w: int, h: int, depth: int,
                                        color: int, payload: bytes) -> None:
    from edgetl.runtime.image import ImageDecodeError, load_array
    from edgetl.runtime.limits import MAX_IMAGE_PIXELS

    p = tmp_path_factory.mktemp("png") / "x.png"
    p.write_bytes(_png(w, h, depth, color, payload))
    try:
        arr = load_array(p, 16)
    except ImageDecodeError as exc:
        if w * h > MAX_IMAGE_PIXELS.value:
            assert "EDGETL_MAX_IMAGE_PIXELS" in str(exc) or "PNG" in str(exc) or "image" in str(exc)
        return
    assert arr.shape == (16, 16, 3) and w * h <= MAX_IMAGE_PIXELS.value


printed = st.text(alphabet=st.sampled_from(list("[]/\\:ab red bold link=") + ["\x1b", "\u2028", "\u202e", "\x07",
                                                                             "\n", "\r", "\x00"]), max_size=40)


@FUZZ
@given(text=printed)
def test_printed_text_is_literal(text: str) -> None:
    """Whatever a file name holds, rich prints exactly its escaped form: no markup, no control characters."""
    from rich.console import Console
    from rich.table import Table

    from edgetl.cli.console import esc, line, plain, styled

    con = Console(width=400, record=True, emoji=False, highlight=False, markup=False, force_terminal=False)
    t = Table()
    t.add_column("c")
    t.add_row(esc(text), styled(text, "red"))
    con.print(t)
    con.print(line(styled("x", "bold"), f" {esc(text)}"))
    out = con.export_text()
    assert plain(text) in out and f"x {plain(text)}" in out
    assert not any(ch in out for ch in ("\x1b", "\u2028", "\u202e", "\x07", "\x00", "\r"))


@FUZZ
@given(name=st.text(min_size=1, max_size=12))
def test_class_names_are_refused_or_round_trip(tmp_path_factory: pytest.TempPathFactory, name: str) -> None:
    """A class folder name either gives a DataError, or survives labels.txt (one per line) unchanged."""
    from edgetl.data.scan import label_problem

    if "/" in name or name in (".", "..") or "\x00" in name:
        return  # not a possible folder name
    why = label_problem(name)
    if why is None:
        text = "".join(f"{c}\n" for c in ["first", name, "last"])
        assert [x for x in text.split("\n") if x.strip()] == ["first", name, "last"]
        assert text.splitlines() == ["first", name, "last"]  # even readers that split on U+2028 agree
    else:
        from PIL import Image

        from edgetl.data.scan import scan

        root = tmp_path_factory.mktemp("cls")
        for n in ("ok", name):
            try:
                (root / n).mkdir()
            except OSError:
                return
            Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(root / n / "a.png")
        with pytest.raises(DataError):
            scan(root)


# ---------------------------------------------------------------- round three: contracts, run folders, weights, bench

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _valid_contract() -> dict:
    from edgetl.runtime.contract import Contract

    return Contract(input_shape=(1, 8, 8, 3), labels=("a", "b"), format="onnx", precision="fp32",
                    output_shape=(1, 2)).to_dict()


contract_paths = st.sampled_from([("input", "mean"), ("input", "std"), ("input", "quantization"), ("output",
                                  "quantization"), ("labels",), ("golden",), ("source",), ("golden_tolerance",),
                                  ("input", "shape"), ("input", "tokenizer"), ("kind",), ("schema",)])


@FUZZ
@given(edits=st.lists(st.tuples(contract_paths, json_values), min_size=1, max_size=4))
def test_contract_fields_are_validated_or_refused(edits: list) -> None:
    """Any value in any field: a Contract with finite, sane normalization, or ModelFileError; nothing else."""
    import math

    from edgetl.errors import RuntimeBackendError
    from edgetl.runtime.contract import Contract

    d = _valid_contract()
    for path, value in edits:
        target = d
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = value
    try:
        c = Contract.from_dict(d, source="fuzz.json")
    except RuntimeBackendError as exc:  # ModelFileError, or a schema newer than this runtime
        assert "fuzz.json" in str(exc) and "\n" not in str(exc)
        return
    assert all(math.isfinite(x) and x >= 0.01 for x in c.std) and all(math.isfinite(x) for x in c.mean)


@FUZZ
@given(doc=json_values)
def test_run_json_of_any_shape_never_deletes_a_user_folder(tmp_path_factory: pytest.TempPathFactory,
                                                           doc: object) -> None:
    import json

    from edgetl.runs import clean, list_artifacts

    rd = tmp_path_factory.mktemp("run")
    for name in ("my-photos", "train-abcdef", "notes-0123456789ab"):
        (rd / name).mkdir()
        (rd / name / "f.txt").write_text("mine")
    (rd / "run.json").write_text(json.dumps(doc))
    for call in (lambda: clean(rd, cache_dir=None, dry_run=False), lambda: list_artifacts(rd)):
        try:
            call()
        except ConfigError as exc:
            assert "run.json" in str(exc)
    assert all((rd / n / "f.txt").is_file() for n in ("my-photos", "train-abcdef", "notes-0123456789ab"))


@FUZZ
@given(header=json_values)
def test_safetensors_headers_of_any_shape_are_weights_errors(tmp_path_factory: pytest.TempPathFactory,
                                                             header: object) -> None:
    import json

    from edgetl.errors import WeightsError
    from edgetl.text.encoder import read_safetensors

    h = json.dumps(header).encode()
    p = tmp_path_factory.mktemp("st") / "model.safetensors"
    p.write_bytes(struct.pack("<Q", len(h)) + h + b"\0" * 256)
    try:
        tensors = read_safetensors(p)
    except WeightsError as exc:
        assert "model.safetensors" in str(exc)
        return
    assert isinstance(tensors, dict) and all(isinstance(v, np.ndarray) for v in tensors.values())


@FUZZ
@given(rows=st.lists(st.fixed_dictionaries({"device": st.sampled_from(["rpi4", "x"]), "status": st.just("ok"),
                                            "artifact": st.text(max_size=8), "p50_ms": json_values,
                                            "threads": json_values}), max_size=8))
def test_bench_rows_that_are_no_measurement_are_dropped(tmp_path_factory: pytest.TempPathFactory, rows: list) -> None:
    import json
    import math

    from edgetl.analysis.calibrate import read_bench_rows

    p = tmp_path_factory.mktemp("bench") / "bench.json"
    p.write_text(json.dumps({"rows": rows}))
    try:
        got = read_bench_rows(p, "rpi4")
    except ConfigError as exc:
        assert "bench.json" in str(exc)
        return
    assert all(math.isfinite(r["p50_ms"]) and r["p50_ms"] > 0 for r in got)


@FUZZ
@given(tok=st.fixed_dictionaries({"type": st.just("wordpiece"), "vocab": st.just(["[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                                                  "a", "##a"]),
                                  "max_length": json_values | st.integers(-5, 10**7),
                                  "max_word_chars": json_values | st.integers(-5, 10**9),
                                  "continuing_prefix": json_values, "special": json_values}))
def test_tokenizer_settings_are_bounded_or_refused(tok: dict) -> None:
    import time

    from edgetl.runtime.tokenizer import WordPieceTokenizer

    try:
        t = WordPieceTokenizer.from_dict(tok)
    except ValueError:
        return
    t0 = time.perf_counter()
    t.encode(" ".join(["a" * 5000] * 20))
    assert time.perf_counter() - t0 < 5
