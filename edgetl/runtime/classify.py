"""Classifier: load a .tflite or .onnx model with its contract and turn images into labels and scores."""
from __future__ import annotations

import base64
import importlib
import queue
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ..errors import ConfigError, ModelFileError, NoContractError, RuntimeBackendError
from .backends import RUNTIMES, Runtime, runtime_for
from .contract import GOLDEN_IMAGE_KEYS, Contract, load_contract
from .image import ImageDecodeError, load_rgb
from .limits import MAX_MODEL_BYTES, MAX_TEXT_FILE_BYTES, read_bounded
from .preprocess import InputWriter, dequantize, softmax, to_pixels
from .tflite_metadata import StandardMetadata, read_standard

BACKENDS = ("auto", *dict.fromkeys(b for r in RUNTIMES.values() for b in r.choices))
_BY_KIND: dict[str, type["Classifier"]] = {}  # contract kind -> its classifier (``class X(Classifier, kind=...)``)


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "label": self.label, "score": round(self.score, 6)}


class Classifier:
    """A loaded model, safe to call from many threads (a pool of ``workers`` interpreters).

    Example:
        >>> clf = Classifier.load("model.tflite", threads=2)  # doctest: +SKIP
        >>> clf.classify("rose.jpg", top_k=3)[0].label  # doctest: +SKIP
        'roses'
    """

    def __init_subclass__(cls, kind: str | None = None, **kw: Any) -> None:
        super().__init_subclass__(**kw)
        if kind:  # the subclass registers itself: the base class never imports it (no cycle)
            _BY_KIND[kind] = cls

    def __init__(self, path: Path, contract: Contract, backends: list[Any]) -> None:
        self.path = path
        self.contract = contract
        self._pool: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for b in backends:
            self._pool.put(b)
        first = backends[0]
        self.backend_name, self.backend_version = first.name, first.version
        self.providers = getattr(first, "providers", None)
        self.input_shape, self.input_dtype = first.input_shape, first.input_dtype
        self.input_quant, self.output_quant = first.input_quant, first.output_quant
        self._write = InputWriter(contract, first.input_dtype, first.input_quant)
        self.size = contract.size
        if tuple(contract.input_shape) != tuple(first.input_shape):
            raise RuntimeBackendError(f"{path}: the contract says input {list(contract.input_shape)} but the model "
                                      f"takes {list(first.input_shape)}. The contract belongs to another model: "
                                      "export again or pass matching options.")
        outputs = int(np.prod(first.output_shape)) if first.output_shape else 0
        if contract.labels and len(contract.labels) != outputs:
            raise RuntimeBackendError(f"{path}: {len(contract.labels)} labels for {outputs} model outputs, so every "
                                      "prediction would be named wrongly. The labels belong to another model: export "
                                      "again, or pass a labels file with one name per output.")

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None, backend: str = "auto", workers: int = 1,
             providers: Sequence[str] | None = None, mean: Sequence[float] | float | None = None,
             std: Sequence[float] | float | None = None, labels: Sequence[str] | str | Path | None = None,
             output_kind: str | None = None, layout: str | None = None,
             provider_options: dict[str, dict[str, Any]] | None = None,
             profile_dir: str | None = None) -> "Classifier":
        """Load ``path`` (.tflite or .onnx) and its contract.

        Args:
            threads: Threads per interpreter (None: the runtime's default).
            backend: auto, litert, tflite-runtime or onnxruntime.
            workers: Interpreters in the pool; calls from more threads than this wait their turn.
            providers: ONNX Runtime execution providers (default CPU).
            provider_options: Options per provider, e.g. {"TensorrtExecutionProvider": {"trt_fp16_enable": True}}.
            profile_dir: ONNX Runtime only: write a per-node profile there (see ``end_profiling``).
            mean, std, labels, output_kind, layout: For a model without an edgetl contract (a foreign
                model), or to override the contract. ``labels`` may be a list or a text file (one per line).
        """
        p = Path(path)
        if backend not in BACKENDS:
            raise ConfigError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
        if workers < 1:
            raise ConfigError(f"workers must be at least 1; got {workers}.")
        if not p.is_file():
            raise RuntimeBackendError(f"Model file {str(p)!r} does not exist.")
        rt = runtime_for(p.name)
        if rt is None:
            raise ConfigError(f"{p}: edgetl runs {' and '.join(r.suffix for r in RUNTIMES.values())} models; got "
                              f"{p.suffix.lower()!r}.")
        if backend != "auto" and backend not in rt.choices:
            raise ConfigError(f"{p} is a {rt.suffix} model; backend {backend!r} does not run it. Use "
                              f"{' or '.join(rt.choices)}.")
        data = read_bounded(p, MAX_MODEL_BYTES)
        backends = [_open(rt, p, data, threads, backend, providers, provider_options, profile_dir)
                    for _ in range(workers)]
        contract = load_contract(p, data)
        standard = read_standard(data, str(p)) if rt.suffix == ".tflite" else None
        if contract is not None and standard is not None and mean is None and std is None and labels is None:
            _agrees(p, contract, standard)  # explicit options override both descriptions
        contract = _with_options(p, contract, backends[0], standard, mean=mean, std=std, labels=labels,
                                 output_kind=output_kind, layout=layout)
        # Classifier.load gives the class registered for the contract's kind (a text model: TextClassifier, with
        # its tokenizer); a subclass's load gives that subclass
        return (_BY_KIND.get(contract.kind, cls) if cls is Classifier else cls)(p, contract, backends)

    @contextmanager
    def _backend(self) -> Iterator[Any]:
        b = self._pool.get()
        try:
            yield b
        finally:
            self._pool.put(b)

    @property
    def labels(self) -> tuple[str, ...]:
        return self.contract.labels

    def scores(self, image: Any) -> np.ndarray:
        """Class scores (probabilities) for one image: path, Pillow image or (H, W, 3) array."""
        pixels = to_pixels(image, self.size)
        with self._backend() as b:
            raw = b.run_into(lambda view: self._write(pixels, view))
        return self._postprocess(raw)

    def model_input(self, image: Any) -> np.ndarray:
        """The input tensor this classifier feeds its model for one image (to give another client the same)."""
        x = np.zeros(tuple(self.input_shape), np.dtype(self.input_dtype))
        self._write(to_pixels(image, self.size), x)
        return x

    def scores_from_input(self, x: np.ndarray) -> np.ndarray:
        """Scores for an already-preprocessed input tensor (shape and dtype of the model's input)."""
        with self._backend() as b:
            raw = b.run(x)
        return self._postprocess(raw)

    @property
    def dynamic_batch(self) -> bool:
        """Whether the model takes a batch larger than one (a dynamic first dimension)."""
        with self._backend() as b:
            return bool(getattr(b, "dynamic_batch", False))

    def infer_batch(self, x: np.ndarray) -> np.ndarray:
        """Raw outputs for a prepared input batch (N, ...) of a dynamic-batch model: for throughput benchmarks."""
        with self._backend() as b:
            if not getattr(b, "dynamic_batch", False):
                raise RuntimeBackendError(f"{self.path}: the model has a fixed batch of 1.")
            return b.run_batch(x)

    def end_profiling(self) -> str | None:
        """ONNX Runtime with ``profile_dir``: finish the profile and return its JSON file."""
        with self._backend() as b:
            end = getattr(b, "end_profiling", None)
            return end() if end else None

    def _postprocess(self, raw: np.ndarray) -> np.ndarray:
        out = dequantize(raw, self.output_quant).reshape(-1)
        if self.contract.output_kind == "logits":
            out = softmax(out)
        return out

    def classify(self, image: Any, top_k: int = 5) -> list[Prediction]:
        """Top-k predictions for one image, best first."""
        return self._top(self.scores(image), top_k)

    def classify_batch(self, images: Iterable[Any], top_k: int = 5) -> list[list[Prediction]]:
        return [self.classify(im, top_k) for im in images]

    def _top(self, scores: np.ndarray, top_k: int) -> list[Prediction]:
        k = max(1, min(top_k, scores.size))
        idx = np.argsort(-scores, kind="stable")[:k]
        names = self.labels
        return [Prediction(int(i), names[i] if i < len(names) else f"class_{i}", float(scores[i])) for i in idx]

    def selftest(self, *, tolerance: float | None = None) -> dict[str, Any]:
        """Rerun the golden images stored at export time; raise RuntimeBackendError on any mismatch."""
        golden = self._golden_entries()
        tol = tolerance if tolerance is not None else float(self.contract.meta.get("golden_tolerance", 0.02))
        results = []
        for g in golden:
            s = self.scores(self._golden_pixels(g))
            top1 = int(np.argmax(s))
            diff = float(np.max(np.abs(s - np.asarray(g["scores"], np.float32))))
            results.append({"name": g.get("name"), "expected": g["top1"], "got": top1, "max_abs_diff": diff,
                            "ok": top1 == g["top1"] and diff <= tol})
        bad = [r for r in results if not r["ok"]]
        if bad:
            lines = "; ".join(f"{r['name']}: top-1 {r['got']} (expected {r['expected']}), max diff "
                              f"{r['max_abs_diff']:.4f}" for r in bad)
            raise RuntimeBackendError(f"{self.path}: selftest failed on {len(bad)} of {len(results)} golden images "
                                      f"({lines}). Check the runtime version, the preprocessing and that the file "
                                      "is not corrupted.")
        return {"ok": True, "images": len(results), "tolerance": tol, "results": results,
                "backend": f"{self.backend_name} {self.backend_version}"}

    def _golden_entries(self) -> list[dict[str, Any]]:
        """The contract's golden entries, checked against this model; or why selftest cannot run."""
        golden = self.contract.golden
        if not golden:
            side = self.path.name + ".json"
            if not _sidecar_exists(self.path):  # the golden items live in the sidecar, not in the model file
                raise RuntimeBackendError(f"{self.path}: selftest needs the sidecar {side} that 'edgetl export' "
                                          "writes beside the model (it holds the golden items; the file's embedded "
                                          f"contract does not). Copy {side} from the run's artifacts/ folder next "
                                          "to the model.")
            raise RuntimeBackendError(f"{self.path}: the sidecar {side} has no golden items to test with. Export "
                                      "again with golden_images > 0.")
        outputs = len(self.labels) or int(np.prod(self._output_shape() or (0,)))
        for g in golden:
            if outputs and len(g["scores"]) != outputs:
                raise ModelFileError(f"{self.path}: golden entry {g.get('name')!s:.80} has {len(g['scores'])} scores "
                                     f"for a model of {outputs} outputs; the contract belongs to another model. "
                                     "Export again.")
        return golden

    def _golden_pixels(self, g: dict[str, Any]) -> Any:
        """A golden image decoded with the same decoder list and limits as any other image."""
        name = f"{self.path}: golden image {g.get('name')!s:.80}"
        key = next((k for k in GOLDEN_IMAGE_KEYS if k in g), None)
        if key is None:
            raise RuntimeBackendError(f"{name} is missing; the sidecar contract (.json next to the model) holds the "
                                      "golden images: copy it along.")
        try:
            data = base64.b64decode(g[key], validate=True)
        except ValueError:
            raise ModelFileError(f"{name} is not base64. Export again, or copy the sidecar .json from the export "
                                 "folder.") from None
        try:
            return load_rgb(data, None, name=name)
        except ImageDecodeError as exc:
            raise ModelFileError(f"{str(exc)[:400]}. Export again, or copy the sidecar .json from the export "
                                 "folder.") from None

    def _output_shape(self) -> tuple[int, ...]:
        with self._backend() as b:
            return tuple(getattr(b, "output_shape", ()) or ())


def _sidecar_exists(path: Path) -> bool:
    from .contract import sidecar_path

    return sidecar_path(path).is_file()


def _open(rt: Runtime, path: Path, data: bytes, threads: int | None, backend: str, providers: Sequence[str] | None,
          provider_options: dict[str, dict[str, Any]] | None = None, profile_dir: str | None = None) -> Any:
    """The runtime's backend class (imported on first use) on the model bytes."""
    module, _, name = rt.backend.partition(":")
    cls = getattr(importlib.import_module(module), name)
    return cls.open(path, data, threads=threads, backend=backend, providers=list(providers) if providers else None,
                    provider_options=provider_options, profile_dir=profile_dir)


def _agrees(path: Path, contract: Contract, standard: StandardMetadata) -> None:
    """A file's two descriptions of itself (edgetl contract, standard metadata) must say the same."""
    bad = []
    if standard.labels is not None and contract.labels and tuple(standard.labels) != tuple(contract.labels):
        bad.append(f"{len(standard.labels)} labels in its metadata vs {len(contract.labels)} in its contract"
                   if len(standard.labels) != len(contract.labels) else "other label names")
    for what, mine, theirs in (("mean", contract.mean, standard.mean), ("std", contract.std, standard.std)):
        if theirs is not None and not np.allclose(np.broadcast_to(mine, 3), np.broadcast_to(theirs, 3), atol=1e-4):
            bad.append(f"{what} {list(theirs)} in its metadata vs {list(mine)} in its contract")
    if bad:
        raise ModelFileError(f"{path}: its standard metadata and its edgetl contract disagree ({'; '.join(bad)}), so "
                             "a phone app and edgetl would score it differently. Export it again.")


def _with_options(path: Path, contract: Contract | None, backend: Any, standard: StandardMetadata | None = None,
                  **opts: Any) -> Contract:
    labels = opts.get("labels")
    if isinstance(labels, (str, Path)):
        lp = Path(labels)
        if not lp.is_file():
            raise ConfigError(f"Labels file {str(lp)!r} does not exist.")
        text = read_bounded(lp, MAX_TEXT_FILE_BYTES, error=ConfigError).decode("utf-8", errors="replace")
        # one label per line: only \n (and \r\n) end a line (str.splitlines would also split on U+2028 & co.)
        labels = [line.strip() for line in text.split("\n") if line.strip()]
    given = {k: v for k, v in {**opts, "labels": labels}.items() if v is not None}
    if contract is None and standard is not None:  # a foreign file with standard metadata: its own description
        from_meta = {"mean": list(standard.mean) if standard.mean else None,
                     "std": list(standard.std) if standard.std else None,
                     "labels": list(standard.labels) if standard.labels else None}
        given = {**{k: v for k, v in from_meta.items() if v is not None}, **given}
    if contract is None:
        if "mean" not in given or "std" not in given:
            raise NoContractError(
                f"{path} has no edgetl contract (no sidecar {path.name}.json, none embedded, no normalization in "
                "standard metadata), so its input "
                "normalization is unknown. Pass mean and std on 0..255 pixels (e.g. mean=127.5 std=127.5 for a "
                "[-1, 1] model, mean=0 std=255 for [0, 1]), and labels if you have them.")
        layout = given.get("layout", "NHWC" if backend.input_shape[-1] == 3 else "NCHW")
        d = {"schema": 1, "input": {"shape": list(backend.input_shape), "layout": layout,
                                    "dtype": str(backend.input_dtype), "mean": given["mean"], "std": given["std"]},
             "output": {"kind": given.get("output_kind", "probabilities")}, "labels": list(given.get("labels", []))}
        return Contract.from_dict(d, source=str(path))
    if not given:
        return contract
    raw = dict(contract.raw)
    raw["input"] = {**raw["input"], **{k: given[k] for k in ("mean", "std", "layout") if k in given}}
    if "output_kind" in given:
        raw["output"] = {**raw.get("output", {}), "kind": given["output_kind"]}
    if "labels" in given:
        raw["labels"] = list(given["labels"])
    return Contract.from_dict(raw, source=str(path))
