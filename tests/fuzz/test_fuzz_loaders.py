"""Fuzzed loaders: every malformed input ends in edgetl's own error (or a correct result), never another
exception, a hang or a crash. CI runs a short version; the full run is

    EDGETL_FUZZ_EXAMPLES=10000 python -m pytest tests/fuzz -p no:cacheprovider

(numbers from the last full run are in benchmarks/RESULTS.md)."""
import io
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgetl.config import ExportConfig, TrainConfig, load_yaml
from edgetl.devices import DeviceProfile
from edgetl.errors import ConfigError, RuntimeBackendError
from edgetl.runtime.contract import Contract
from edgetl.runtime.image import ImageDecodeError, load_rgb
from edgetl.runtime.tflite_file import read_graph, read_metadata

EXAMPLES = int(os.environ.get("EDGETL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
REPO = Path(__file__).resolve().parents[2]


def _seed_tflite() -> bytes:
    shared = Path(os.environ.get("EDGETL_SHARED", REPO.parent / "shared"))
    p = shared / "models" / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
    if not p.is_file():
        pytest.skip("../shared is not present")
    return p.read_bytes()


mutations = st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 255)), min_size=1, max_size=12)


def mutate(data: bytes, flips: list[tuple[int, int]], cut: int | None) -> bytes:
    b = bytearray(data)
    for pos, val in flips:
        # aim at the header and tables at the front, where offsets live, as often as at weights
        i = pos % min(len(b), 4096) if pos % 2 else pos % len(b)
        b[i] = val
    return bytes(b[:cut]) if cut is not None else bytes(b)


@FUZZ
@given(flips=mutations, cut=st.one_of(st.none(), st.integers(0, 5000)))
def test_tflite_reader(flips: list, cut: int | None) -> None:
    data = mutate(_seed_tflite(), flips, cut)
    try:
        g = read_graph(data)
        read_metadata(data)
        assert all(0 <= i < len(g.tensors) for i in g.inputs + g.outputs)
    except RuntimeBackendError:
        pass


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
                           lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=8), c, max_size=5),
                           max_leaves=20)
contract_like = st.fixed_dictionaries({"schema": json_values, "input": st.one_of(json_values, st.fixed_dictionaries(
    {"shape": json_values, "mean": json_values, "std": json_values, "layout": json_values, "quantization": json_values})),
    "output": json_values, "labels": json_values})


@FUZZ
@given(doc=st.one_of(json_values, contract_like))
def test_contract(doc: object) -> None:
    try:
        c = Contract.from_dict(doc if isinstance(doc, dict) else {"input": doc})
        assert len(c.input_shape) == 4
    except RuntimeBackendError:
        pass


yaml_text = st.one_of(st.text(max_size=300), st.builds(lambda d: json.dumps(d), json_values))


@FUZZ
@given(text=yaml_text, extra=st.dictionaries(st.sampled_from(
    ["data", "epochs", "strategy", "augment", "fine_tune_lr", "alpha", "val_split", "targets", "opset", "x"]),
    json_values, max_size=4))
def test_configs(tmp_path_factory: pytest.TempPathFactory, text: str, extra: dict) -> None:
    p = tmp_path_factory.mktemp("cfg") / "c.yaml"
    p.write_text(text, encoding="utf-8", errors="surrogatepass") if False else p.write_bytes(text.encode("utf-8", "replace"))
    for fn in (lambda: load_yaml(p), lambda: TrainConfig.from_dict({"data": "x", **extra}),
               lambda: ExportConfig.from_dict({k: v for k, v in extra.items() if k != "data"})):
        try:
            fn()
        except ConfigError:
            pass


profile_like = st.fixed_dictionaries({"name": st.just("p"), "description": json_values, "runtime": st.one_of(
    st.sampled_from(["litert", "onnxruntime"]), json_values)}, optional={
    "threads": json_values, "delegate": json_values, "access": st.one_of(json_values, st.fixed_dictionaries(
        {"kind": st.sampled_from(["ssh", "local", "none"])}, optional={"host": st.text(max_size=30),
                                                                         "user": st.text(max_size=10),
                                                                         "port": json_values, "key": json_values,
                                                                         "workdir": st.text(max_size=20)})),
    "min_runs": json_values, "max_runs": json_values, "ram_mb": json_values})


@FUZZ
@given(doc=profile_like, text=st.text(max_size=200))
def test_device_profiles(tmp_path_factory: pytest.TempPathFactory, doc: dict, text: str) -> None:
    try:
        DeviceProfile.from_dict(doc, source="fuzz")
    except ConfigError:
        pass
    p = tmp_path_factory.mktemp("prof") / "p.yaml"
    p.write_bytes(text.encode("utf-8", "replace"))
    try:
        DeviceProfile.from_yaml(p)
    except ConfigError:
        pass


def _seed_images() -> list[bytes]:
    from PIL import Image

    out = []
    img = Image.new("RGB", (24, 16), (10, 200, 30))
    for fmt, kw in (("JPEG", {}), ("PNG", {}), ("GIF", {}), ("WEBP", {}), ("BMP", {})):
        buf = io.BytesIO()
        img.save(buf, format=fmt, **kw)
        out.append(buf.getvalue())
    return out


SEED_IMAGES = _seed_images()


@FUZZ
@given(which=st.integers(0, len(SEED_IMAGES) - 1), flips=mutations, cut=st.one_of(st.none(), st.integers(0, 400)))
def test_images(tmp_path_factory: pytest.TempPathFactory, which: int, flips: list, cut: int | None) -> None:
    data = mutate(SEED_IMAGES[which], flips, cut)
    p = tmp_path_factory.mktemp("img") / "x.img"
    p.write_bytes(data)
    try:
        im = load_rgb(p, 8)
        assert im.size == (8, 8) and im.mode == "RGB"
    except ImageDecodeError:
        pass
