"""The model contract: everything a device app needs to feed a model and read its output.

Stored twice by ``edgetl export``: embedded in the model file (TFLite metadata entry
``edgetl_contract``, ONNX ``metadata_props``) and as a sidecar ``<model>.json`` next to it. The sidecar
also carries golden images for ``selftest()``. Normalization lives inside the model graph: every
edgetl model takes RGB pixels in 0..255, so ``mean`` is 0 and ``std`` is 1 unless a foreign model says
otherwise.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelFileError, RuntimeBackendError
from .limits import MAX_CONTRACT_BYTES, MAX_MODEL_BYTES, read_bounded

SCHEMA = 1
ONNX_METADATA_KEY = "edgetl_contract"


# The one statement of how an edgetl image model takes its input: RGB pixels 0..255, normalization inside the
# graph, bilinear resize. Training records it (metrics.json), export writes it (the contract), the runtime reads it.
IMAGE_INPUT = {"layout": "NHWC", "color": "RGB", "range": [0, 255], "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0],
               "resize": "bilinear", "normalization": "inside the model graph: feed RGB pixels 0..255"}
_INPUT_KEYS = ("name", "shape", "layout", "dtype", "color", "range", "mean", "std", "resize", "normalization",
               "quantization", "tokenizer")
_OUTPUT_KEYS = ("shape", "kind", "dtype", "quantization")


# what each kind of model takes, as its contract says (the runtime's copy of edgetl.modality's names: the runtime
# folder is vendored alone): (layouts, the first the default; input rank; whether it needs a tokenizer)
GOLDEN_TEXT_KEY = "text"  # a text model's golden item keeps its text under this key
KIND_INPUTS = {"image": (("NHWC", "NCHW"), 4, False), "text": (("TOKENS",), 2, True)}


@dataclass(frozen=True)
class Contract:
    """Input and output contract of one model file, written and read by this class alone.

    Attributes:
        input_shape: [1, H, W, 3] (NHWC) or [1, 3, H, W] (NCHW).
        layout: NHWC or NCHW.
        input_dtype: float32, uint8 or int8.
        mean: Per-channel mean subtracted from 0..255 pixels before the model (0 for edgetl models).
        std: Per-channel divisor after the mean.
        input_scale: Quantization scale of an integer input (None for float inputs).
        input_zero_point: Quantization zero point of an integer input.
        output_scale: Quantization scale of an integer output.
        output_zero_point: Quantization zero point of an integer output.
        output_kind: probabilities (softmax inside) or logits.
        labels: Class names, index = output position.
        resize: Resize method (bilinear).
        kind: ``image`` (pixels in) or ``text`` (token ids in, with ``tokenizer``).
        format: ``tflite`` or ``onnx`` (None for a foreign model described by options).
        precision: The target precision the file was exported at.
        output_shape: The model's output shape.
        output_dtype: The model's output dtype.
        tokenizer: For text models: vocabulary, lower-casing, special tokens, maximum length.
        meta: Everything else the document carries (backbone, source, versions, golden images).
    """

    input_shape: tuple[int, ...]
    layout: str = "NHWC"
    input_dtype: str = "float32"
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    input_scale: float | None = None
    input_zero_point: int = 0
    output_scale: float | None = None
    output_zero_point: int = 0
    output_kind: str = "probabilities"
    labels: tuple[str, ...] = ()
    resize: str = "bilinear"
    kind: str = "image"
    format: str | None = None
    precision: str | None = None
    output_shape: tuple[int, ...] = ()
    output_dtype: str = "float32"
    tokenizer: dict[str, Any] | None = field(default=None, compare=False)
    meta: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the model input."""
        s = self.input_shape
        if self.layout == "TOKENS":
            return (s[-1], 1)  # tokens: the sequence length
        return (s[1], s[2]) if self.layout == "NHWC" else (s[2], s[3])

    @property
    def golden(self) -> list[dict[str, Any]]:
        return list(self.meta.get("golden", []))

    @property
    def raw(self) -> dict[str, Any]:
        """The contract document (as written to the sidecar and embedded in the file)."""
        return self.to_dict()

    def with_golden(self, entries: list[dict[str, Any]]) -> "Contract":
        return replace(self, meta={**self.meta, "golden": entries})

    def to_dict(self) -> dict[str, Any]:
        def quant(scale: float | None, zp: int) -> dict[str, Any] | None:
            return {"scale": scale, "zero_point": zp} if scale else None

        tokens = self.layout == "TOKENS"
        inp: dict[str, Any] = {"name": "tokens" if tokens else "image", "shape": list(self.input_shape),
                               "layout": self.layout, "dtype": self.input_dtype}
        if not tokens:
            inp.update({k: v for k, v in IMAGE_INPUT.items() if k not in ("layout", "mean", "std", "resize")})
            inp.update(mean=list(self.mean), std=list(self.std), resize=self.resize)
            if self.mean != (0.0, 0.0, 0.0) or self.std != (1.0, 1.0, 1.0):
                inp["normalization"] = "(pixel - mean) / std, then the model"
        inp["quantization"] = quant(self.input_scale, self.input_zero_point)
        if self.tokenizer is not None:
            inp["tokenizer"] = self.tokenizer
        doc: dict[str, Any] = {"schema": SCHEMA, "kind": self.kind}
        if self.format:
            doc.update(format=self.format, precision=self.precision)
        doc["input"] = inp
        doc["output"] = {"shape": list(self.output_shape), "kind": self.output_kind, "dtype": self.output_dtype,
                         "quantization": quant(self.output_scale, self.output_zero_point)}
        doc["labels"] = list(self.labels)
        doc.update(self.meta)
        return doc

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, source: str = "contract") -> "Contract":
        try:
            if not isinstance(d, dict):
                raise TypeError(f"a contract is a JSON object, not {type(d).__name__}")
            for part in ("input", "output"):
                if not isinstance(d.get(part, {}), dict):
                    raise TypeError(f"{part!r} must be an object")
            if int(d.get("schema", SCHEMA)) > SCHEMA:
                raise RuntimeBackendError(f"{source}: contract schema {d['schema']} is newer than this runtime "
                                          f"understands ({SCHEMA}). Upgrade edgetl on the device.")
            inp, out = d["input"], d.get("output", {})
            iq, oq = inp.get("quantization") or {}, out.get("quantization") or {}
            if not isinstance(iq, dict) or not isinstance(oq, dict):
                raise TypeError("quantization must be an object")
            labels = d.get("labels", [])
            if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
                raise TypeError("labels must be a list of strings")
            kind = str(d.get("kind", "image"))
            if kind not in KIND_INPUTS:
                raise ValueError(f"kind {kind!r}")
            layouts, rank, needs_tokenizer = KIND_INPUTS[kind]
            layout = str(inp.get("layout", layouts[0])).upper()
            if layout not in layouts:
                raise ValueError(f"layout {layout!r} for a {kind} model")
            shape = tuple(int(x) for x in inp["shape"])
            if len(shape) != rank or min(shape) < 1:
                raise ValueError(f"input shape {list(shape)}")
            tok = inp.get("tokenizer")
            if tok is not None and not isinstance(tok, dict) or (needs_tokenizer and tok is None):
                raise TypeError("a text model's contract needs a tokenizer object")
            known = {"schema", "kind", "format", "precision", "input", "output", "labels"}
            _check_bounds(d, labels)
            return cls(
                input_shape=shape, layout=layout, input_dtype=str(inp.get("dtype", "float32")),
                mean=_triple(inp.get("mean", 0.0)), std=_triple(inp.get("std", 1.0)),
                input_scale=float(iq["scale"]) if iq.get("scale") else None,
                input_zero_point=int(iq.get("zero_point", 0)),
                output_scale=float(oq["scale"]) if oq.get("scale") else None,
                output_zero_point=int(oq.get("zero_point", 0)),
                output_kind=str(out.get("kind", "probabilities")),
                labels=tuple(labels), resize=str(inp.get("resize", "bilinear")), kind=kind,
                format=str(d["format"]) if d.get("format") else None,
                precision=str(d["precision"]) if d.get("precision") else None,
                output_shape=tuple(int(x) for x in out.get("shape") or ()),
                output_dtype=str(out.get("dtype", "float32")), tokenizer=tok,
                meta={k: v for k, v in d.items() if k not in known})
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, RecursionError) as exc:
            raise ModelFileError(f"{source}: malformed contract ({type(exc).__name__}: {str(exc)[:300]}). Re-export "
                                 "the model with 'edgetl export', or pass the input options explicitly.") from None


def _triple(v: Any) -> tuple[float, ...]:
    vals = [float(x) for x in (v if isinstance(v, (list, tuple)) else [v])]
    if len(vals) == 1:
        vals *= 3
    if len(vals) != 3 or any(x != x for x in vals):
        raise ValueError(f"expected 1 or 3 numbers, got {str(v)[:80]}")
    return tuple(vals)


# Bounds on what a contract may say. Every value that reaches arithmetic is finite and in a range a real model
# has, so a crafted sidecar gets one line here instead of NaN scores, a division by zero or minutes of work.
MEAN_RANGE = (0.0, 255.0)  # a mean on 0..255 pixels lies inside them
STD_RANGE = (1e-2, 1e3)  # 1 (edgetl), 58 (ImageNet), 127.5 ([-1, 1]), 255 ([0, 1]); zero or 1e30 is no model's
MAX_LABELS = 200_000
MAX_LABEL_CHARS = 1_000
MAX_GOLDEN = 100
MAX_GOLDEN_PNG_CHARS = 4 << 20  # base64 of one golden image
GOLDEN_IMAGE_KEYS = ("jpeg_base64", "png_base64")  # export stage 17 writes JPEG; earlier ones PNG
MAX_GOLDEN_TEXT_CHARS = 100_000


def _finite(x: Any, what: str, lo: float, hi: float) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{what} must be a number, not {type(x).__name__}")
    v = float(x)
    if not (v == v and lo <= v <= hi):
        raise ValueError(f"{what} is {v!r}, outside {lo:g}..{hi:g}")
    return v


def _check_bounds(d: dict[str, Any], labels: list[str]) -> None:
    """Refuse values no exported model has: non-finite or absurd normalization and scales, huge label lists,
    malformed golden entries (each checked before any is decoded or compared)."""
    inp, out = d["input"], d.get("output") or {}
    for name, lo, hi in (("mean", *MEAN_RANGE), ("std", *STD_RANGE)):
        v = inp.get(name, 0.0 if name == "mean" else 1.0)
        for x in (v if isinstance(v, (list, tuple)) else [v])[:4]:
            _finite(x, f"input {name}", lo, hi)
    for part, q in (("input", inp.get("quantization")), ("output", out.get("quantization"))):
        if q:
            if q.get("scale") is not None:
                _finite(q["scale"], f"{part} quantization scale", 1e-30, 1e30)
            _finite(q.get("zero_point", 0), f"{part} quantization zero point", -(2**31), 2**31 - 1)
    if len(labels) > MAX_LABELS or any(len(x) > MAX_LABEL_CHARS for x in labels):
        raise ValueError(f"{len(labels)} labels, or a label over {MAX_LABEL_CHARS} characters")
    if "golden_tolerance" in d:
        _finite(d["golden_tolerance"], "golden_tolerance", 0.0, 1.0)
    golden = d.get("golden", [])
    if not isinstance(golden, list) or len(golden) > MAX_GOLDEN:
        raise ValueError(f"golden must be a list of at most {MAX_GOLDEN} entries")
    for i, g in enumerate(golden):
        _check_golden(g, i, len(labels))
    src = d.get("source", {})
    if not isinstance(src, dict) or not all(isinstance(v, (str, int, float, type(None))) for v in src.values()):
        raise TypeError("source must be an object of plain values")


def _check_golden(g: Any, i: int, n_labels: int) -> None:
    if not isinstance(g, dict):
        raise TypeError(f"golden entry {i} must be an object")
    scores = g.get("scores")
    if not isinstance(scores, list) or not scores or len(scores) > MAX_LABELS or (n_labels and len(scores) != n_labels):
        raise ValueError(f"golden entry {i}: scores must be a list of one number per label")
    for x in scores:
        _finite(x, f"golden entry {i} score", -1e30, 1e30)
    top1 = g.get("top1")
    if isinstance(top1, bool) or not isinstance(top1, int) or not 0 <= top1 < len(scores):
        raise ValueError(f"golden entry {i}: top1 must be an index into its scores")
    if not isinstance(g.get("name", ""), (str, int)):
        raise TypeError(f"golden entry {i}: name must be a string")
    for key in GOLDEN_IMAGE_KEYS:
        if key in g and (not isinstance(g[key], str) or len(g[key]) > MAX_GOLDEN_PNG_CHARS):
            raise ValueError(f"golden entry {i}: {key} must be a string of at most {MAX_GOLDEN_PNG_CHARS:,} characters")
    if GOLDEN_TEXT_KEY in g and (not isinstance(g[GOLDEN_TEXT_KEY], str)
                                 or len(g[GOLDEN_TEXT_KEY]) > MAX_GOLDEN_TEXT_CHARS):
        raise ValueError(f"golden entry {i}: text must be a string of at most {MAX_GOLDEN_TEXT_CHARS:,} characters")


def sidecar_path(model_path: str | Path) -> Path:
    p = Path(model_path)
    return p.with_name(p.name + ".json")


def load_contract(model_path: str | Path, model_bytes: bytes | None = None) -> Contract | None:
    """The sidecar contract if present, else the one embedded in the model file, else None."""
    p = Path(model_path)
    side = sidecar_path(p)
    if side.is_file():
        return Contract.from_dict(parse_json(side, read_bounded(side, MAX_CONTRACT_BYTES).decode("utf-8", "replace"),
                                             "contract"), source=str(side))
    data = model_bytes if model_bytes is not None else read_bounded(p, MAX_MODEL_BYTES)
    embedded = embedded_contract(p, data)
    return Contract.from_dict(embedded, source=f"{p} (embedded)") if embedded is not None else None


def parse_json(source: str | Path, text: str | bytes, what: str) -> Any:
    """json.loads with every failure (bad syntax, deep nesting, huge numbers) as one ModelFileError line."""
    if len(text) > MAX_CONTRACT_BYTES.value:
        raise ModelFileError(MAX_CONTRACT_BYTES.exceeded(len(text), str(source)) + ".")
    try:
        return json.loads(text)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{source}: the {what} is not valid JSON ({type(exc).__name__}: {str(exc)[:200]}). "
                             "Delete the sidecar .json to use the contract embedded in the model, or export "
                             "again.") from None


def embedded_contract(path: Path, data: bytes) -> dict[str, Any] | None:
    """The contract a model file carries inside it (its runtime's entry in the suffix table names the reader)."""
    import importlib

    from .backends import RUNTIMES, runtime_for

    rt = runtime_for(path.name)
    if rt is None:
        raise ConfigError(f"{path}: unknown model format {path.suffix!r}; edgetl runs "
                          f"{', '.join(r.suffix for r in RUNTIMES.values())} files.")
    module, _, name = rt.contract.partition(":")
    raw = getattr(importlib.import_module(module), name)(data, str(path))
    if raw is None:
        return None
    return parse_json(f"{path} (embedded)", raw, "embedded contract")


def onnx_contract(data: bytes, name: str) -> bytes | None:
    from .onnx_file import read_onnx

    v = read_onnx(data, name).metadata.get(ONNX_METADATA_KEY)
    return v.encode() if v is not None else None
