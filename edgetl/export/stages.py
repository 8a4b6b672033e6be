"""The reference stage (Keras scores on validation images) and one export stage per target."""
from __future__ import annotations

import io
import json
import tempfile
import time
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from ..artifacts import Artifact, atomic_write_bytes, atomic_write_json, library_versions, read_json
from ..config import ExportConfig
from ..pipeline import RunContext
from ..quantize.calibration import calibration_pixels, decode_many, representative
from .contract import golden_entries, make_contract
from .verify import compare, run_artifact

_TOOLS = ("tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert")


def load_keras(path: Path) -> Any:
    from ..model_io import load_keras as load

    return load(path)


class ExportInputs:
    """What every export stage of one run shares, loaded once: the Keras model, images, the SavedModel."""

    def __init__(self, train_dir: Path, config: ExportConfig) -> None:
        self.train_dir = train_dir
        self.config = config
        self.metrics = read_json(train_dir / "metrics.json")
        self.split = read_json(train_dir / "split.json")
        # metrics.json (JSON) is the source of the labels; labels.txt is for people and other tools
        self.labels = [str(c) for c in self.metrics["data"]["classes"]]
        self.size = int(self.metrics["model"]["input_size"])
        self._tmp = tempfile.TemporaryDirectory(prefix="edgetl-export-")

    @cached_property
    def model(self) -> Any:
        from ..errors import ConversionError

        model = load_keras(self.train_dir / "model.keras")
        outputs = int(model.output_shape[-1])
        if outputs != len(self.labels):
            raise ConversionError(f"{self.train_dir}: the model has {outputs} outputs but the run names "
                                  f"{len(self.labels)} classes; every label would be wrong. Train the run again.")
        return model

    @cached_property
    def validation(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        paths, labels = self.split["val"], np.asarray(self.split["val_labels"])
        n = self.config.verify_images or len(paths)
        pixels, keep = decode_many(paths[:n], self.size)
        return [paths[i] for i in keep], pixels, labels[:n][keep]

    @cached_property
    def calibration(self) -> np.ndarray:
        return calibration_pixels(self.split["train"], self.config.calibration_images, self.size)

    @cached_property
    def saved_model(self) -> Path:
        from ..convert.keras_to_tflite import keras_to_saved_model

        return keras_to_saved_model(self.model, Path(self._tmp.name) / "saved_model", input_size=self.size)


class ReferenceStage:
    name: ClassVar[str] = "reference"
    version: ClassVar[int] = 1

    def __init__(self, shared: ExportInputs) -> None:
        self.shared = shared

    def tool_versions(self) -> Mapping[str, str]:
        return library_versions("tensorflow", "tensorflow-cpu", "keras")

    def run(self, inputs: Mapping[str, Artifact], config: Any, ctx: RunContext) -> dict[str, Artifact]:
        from ..train.loops import predict_images

        names, pixels, labels = self.shared.validation
        probs = predict_images(self.shared.model, pixels)
        buf = io.BytesIO()
        np.savez(buf, probs=probs.astype(np.float32), labels=labels)
        atomic_write_bytes(ctx.out_dir / "reference.npz", buf.getvalue())
        atomic_write_json(ctx.out_dir / "images.json", names)
        ctx.info = {"images": len(names), "keras_accuracy": float((probs.argmax(1) == labels).mean())}  # type: ignore[attr-defined]
        return {"reference": Artifact.from_file(ctx.out_dir / "reference.npz", "npz")}


class ExportStage:
    """Produce one artifact (``target`` like ``tflite:int8``), its contract, and its verification report."""

    version: ClassVar[int] = 1

    def __init__(self, target: str, shared: ExportInputs) -> None:
        self.target = target
        self.name = "export_" + target.replace(":", "_")
        self.shared = shared

    def tool_versions(self) -> Mapping[str, str]:
        return library_versions(*_TOOLS)

    def key_config(self, cfg: ExportConfig) -> dict[str, Any]:
        fmt, prec = self.target.split(":")
        d: dict[str, Any] = {"target": self.target, "verify_images": cfg.verify_images,
                             "accuracy_budget": cfg.accuracy_budget, "golden_images": cfg.golden_images}
        if prec in ("int8", "uint8"):
            d["calibration_images"] = cfg.calibration_images
        if fmt == "onnx":
            d["opset"] = cfg.opset
            if prec == "int8":
                d.update(per_channel=cfg.onnx_per_channel, mode=cfg.onnx_int8_mode)
        else:
            d["allow_flex_ops"] = cfg.allow_flex_ops
        return d

    def run(self, inputs: Mapping[str, Artifact], config: ExportConfig, ctx: RunContext) -> dict[str, Artifact]:
        from ..runtime.classify import Classifier
        from ..runtime.contract import sidecar_path

        fmt, prec = self.target.split(":")
        t0 = time.perf_counter()
        data, ops = self._convert(fmt, prec, config)
        convert_s = time.perf_counter() - t0
        ext = "tflite" if fmt == "tflite" else "onnx"
        path = ctx.out_dir / f"model_{prec}.{ext}"
        probe = self._probe(path, data)
        versions = dict(self.tool_versions())
        source = {"stage": self.name, "key": ctx.key, "run_dir": str(ctx.run_dir),
                  "keras_model_sha256": inputs["model"].sha256, "train_stage": self.shared.train_dir.name}
        contract = make_contract(self.target, probe, size=self.shared.size, labels=self.shared.labels,
                                 train=self.shared.metrics, source=source, versions=versions)
        data = self._embed(fmt, data, contract)
        atomic_write_bytes(path, data)
        atomic_write_json(sidecar_path(path), contract)
        # Post-conditions: load through the runtime with the contract, compare with Keras.
        ref = np.load(inputs["reference"].path)
        names, pixels, labels = self.shared.validation
        clf = Classifier.load(path)
        t1 = time.perf_counter()
        scores = run_artifact(clf, pixels)
        verify_s = time.perf_counter() - t1
        report = compare(self.target, scores, ref["probs"], labels, budget_points=config.accuracy_budget)
        g = min(config.golden_images, len(names))
        contract["golden"] = golden_entries([Path(n).name for n in names[:g]], pixels[:g], scores[:g],
                                            with_images=True)
        atomic_write_json(sidecar_path(path), contract)
        report.update({"target": self.target, "file": path.name, "size_bytes": len(data),
                       "convert_s": round(convert_s, 2), "verify_ms_per_image": round(1000 * verify_s / len(pixels), 3),
                       "backend": f"{clf.backend_name} {clf.backend_version}", "ops": ops,
                       "input": contract["input"], "output": contract["output"]})
        atomic_write_json(ctx.out_dir / "report.json", report)
        ctx.info = {k: report[k] for k in ("status", "accuracy", "top1_agreement", "size_bytes")}  # type: ignore[attr-defined]
        ctx.log(f"{self.target}: {report['status']} accuracy {report['accuracy']:.4f} "
                f"agreement {report['top1_agreement']:.4f} {report['reason']}")
        return {"model": Artifact.from_file(path, ext), "contract": Artifact.from_file(sidecar_path(path), "json"),
                "report": Artifact.from_file(ctx.out_dir / "report.json", "json")}

    def _convert(self, fmt: str, prec: str, cfg: ExportConfig) -> tuple[bytes, list[str]]:
        if fmt == "tflite":
            from ..analysis.tflite_stats import op_name
            from ..convert.keras_to_tflite import saved_model_to_tflite
            from ..runtime.tflite_file import read_opcodes

            rep = representative(self.shared.calibration) if prec in ("int8", "uint8") else None
            data = saved_model_to_tflite(self.shared.saved_model, prec, representative=rep,
                                         allow_flex_ops=cfg.allow_flex_ops)
            ops = sorted({f"{op_name(o.builtin_code, o.custom_code)} v{o.version}"
                          for o in read_opcodes(data)})
            return data, ops
        from ..convert.keras_to_onnx import keras_to_onnx
        from ..quantize.onnx_ptq import quantize_onnx

        proto = keras_to_onnx(self.shared.model, input_size=self.shared.size, opset=cfg.opset)
        if prec == "int8":
            proto = quantize_onnx(proto, mode=cfg.onnx_int8_mode, pixels=self.shared.calibration,
                                  per_channel=cfg.onnx_per_channel)
        ops = sorted({n.op_type for n in proto.graph.node})
        return proto.SerializeToString(), ops

    def _probe(self, path: Path, data: bytes) -> Any:
        if path.suffix == ".tflite":
            from ..runtime.backends.litert import LiteRTBackend

            return LiteRTBackend(path, data)
        from ..runtime.backends.onnx import OnnxBackend

        return OnnxBackend(path, data)

    def _embed(self, fmt: str, data: bytes, contract: dict[str, Any]) -> bytes:
        from ..runtime.contract import ONNX_METADATA_KEY
        from ..runtime.tflite_file import CONTRACT_METADATA_NAME

        payload = json.dumps(contract, sort_keys=True)
        if fmt == "tflite":
            from ..convert.keras_to_tflite import embed_metadata

            return embed_metadata(data, CONTRACT_METADATA_NAME, payload.encode())
        import onnx

        from ..convert.keras_to_onnx import set_metadata

        proto = onnx.load_from_string(data)
        set_metadata(proto, ONNX_METADATA_KEY, payload)
        return proto.SerializeToString()
