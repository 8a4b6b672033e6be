"""The reference stage (Keras scores on validation images) and one export stage per target."""
from __future__ import annotations

import io
import tempfile
import time
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from ..artifacts import Artifact, atomic_write_bytes, atomic_write_json, library_versions, read_json
from ..config import ExportConfig
from ..pipeline import RunContext
from ..data.images import decode_many
from ..quantize.calibration import calibration_pixels
from ..targets import Target, key_config
from ..targets import get as get_target
from .contract import golden_entries, make_contract
from .verify import compare, run_artifact


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
    """Produce one artifact (a :class:`Target` like ``tflite:int8``), its contract, and its verification report.

    Format-specific work is the exporter module's (``edgetl/export/formats/<format>.py``); this class is the
    same for every format.
    """

    version: ClassVar[int] = 2

    def __init__(self, target: Target | str, shared: ExportInputs) -> None:
        self.target = get_target(target) if isinstance(target, str) else target
        self.name = "export_" + self.target.name.replace(":", "_")
        self.shared = shared

    def tool_versions(self) -> Mapping[str, str]:
        return library_versions(*self.target.format.tools)

    def key_config(self, cfg: ExportConfig) -> dict[str, Any]:
        return key_config(self.target, cfg)

    def run(self, inputs: Mapping[str, Artifact], config: ExportConfig, ctx: RunContext) -> dict[str, Artifact]:
        from ..runtime.classify import Classifier
        from ..runtime.contract import sidecar_path
        from .formats import exporter

        fmt = exporter(self.target)
        t0 = time.perf_counter()
        data, ops = fmt.convert(self.shared, self.target, config)
        convert_s = time.perf_counter() - t0
        path = ctx.out_dir / self.target.filename
        probe = fmt.probe(path, data)
        versions = dict(self.tool_versions())
        source = {"stage": self.name, "key": ctx.key, "run_dir": str(ctx.run_dir),
                  "keras_model_sha256": inputs["model"].sha256, "train_stage": self.shared.train_dir.name}
        contract = make_contract(self.target, probe, size=self.shared.size, labels=self.shared.labels,
                                 train=self.shared.metrics, source=source, versions=versions)
        data = fmt.embed(data, contract.to_dict())
        atomic_write_bytes(path, data)
        # Post-conditions: load through the runtime with the contract, compare with Keras.
        atomic_write_json(sidecar_path(path), contract.to_dict())
        ref = np.load(inputs["reference"].path)
        names, pixels, labels = self.shared.validation
        clf = Classifier.load(path)
        t1 = time.perf_counter()
        scores = run_artifact(clf, pixels)
        verify_s = time.perf_counter() - t1
        report = compare(self.target, scores, ref["probs"], labels, budget_points=config.accuracy_budget)
        g = min(config.golden_images, len(names))
        contract = contract.with_golden(golden_entries([Path(n).name for n in names[:g]], pixels[:g], scores[:g],
                                                       with_images=True))
        atomic_write_json(sidecar_path(path), contract.to_dict())
        report.update({"target": self.target.name, "file": path.name, "size_bytes": len(data),
                       "convert_s": round(convert_s, 2), "verify_ms_per_image": round(1000 * verify_s / len(pixels), 3),
                       "backend": f"{clf.backend_name} {clf.backend_version}", "providers": clf.providers, "ops": ops,
                       "input": contract.to_dict()["input"], "output": contract.to_dict()["output"]})
        atomic_write_json(ctx.out_dir / "report.json", report)
        ctx.info = {k: report[k] for k in ("status", "accuracy", "top1_agreement", "size_bytes")}  # type: ignore[attr-defined]
        ctx.log(f"{self.target}: {report['status']} accuracy {report['accuracy']:.4f} "
                f"agreement {report['top1_agreement']:.4f} {report['reason']}")
        kind = self.target.format.name
        return {"model": Artifact.from_file(path, kind), "contract": Artifact.from_file(sidecar_path(path), "json"),
                "report": Artifact.from_file(ctx.out_dir / "report.json", "json")}
