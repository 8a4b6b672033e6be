"""The reference stage (Keras scores on validation images) and one export stage per target."""
from __future__ import annotations

import io
import logging
import time
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from ..artifacts import Artifact, atomic_write_bytes, atomic_write_json, library_versions
from ..backbones.specs import get_spec
from ..config import ExportConfig
from ..pipeline import RunContext
from ..targets import Target, key_config
from ..targets import get as get_target
from .inputs import ExportInputs
from .advice import over_budget_warning
from .contract import golden_entries, golden_indices, make_contract, model_card
from .verify import compare, run_artifact


class ReferenceStage:
    name: ClassVar[str] = "reference"
    version: ClassVar[int] = 2  # 2: Keras scores on the test split too

    def __init__(self, shared: ExportInputs) -> None:
        self.shared = shared

    def tool_versions(self) -> Mapping[str, str]:
        return library_versions("tensorflow", "tensorflow-cpu", "keras")

    def run(self, inputs: Mapping[str, Artifact], config: Any, ctx: RunContext) -> dict[str, Artifact]:
        names, pixels, labels = self.shared.validation
        probs = self.shared.keras_scores(pixels)
        _, t_pixels, t_labels = self.shared.test
        t_probs = self.shared.keras_scores(t_pixels) if len(t_pixels) else np.zeros((0, probs.shape[1]))
        buf = io.BytesIO()
        np.savez(buf, probs=probs.astype(np.float32), labels=labels, test_probs=t_probs.astype(np.float32),
                 test_labels=t_labels)
        atomic_write_bytes(ctx.out_dir / "reference.npz", buf.getvalue())
        atomic_write_json(ctx.out_dir / "images.json", names)
        ctx.info = {"images": len(names), "keras_accuracy": float((probs.argmax(1) == labels).mean())}
        return {"reference": Artifact.from_file(ctx.out_dir / "reference.npz", "npz")}


class ExportStage:
    """Produce one artifact (a :class:`Target` like ``tflite:int8``), its contract, and its verification report.

    Format-specific work is the exporter module's (``edgetl/formats/<format>/export.py``); this class is the
    same for every format.
    """

    version: ClassVar[int] = 17  # 3: sensitivity, calibration audit, selective; 4-5: range audit; 6-7: weight
    # rounding (by default); 8-11: selective timing, closer_z, bisection, confirmed refusals; 12: ONNX float layers;
    # 13-14: rounding chosen on held-back inputs, tflite:int16; 15: TFLite metadata for phones (issue 31); 16: golden
    # items with a clear top-1, tolerant where int8 kernels differ by CPU, ONNX Runtime's graph (arm64_box*.json);
    # 17: golden images as JPEG (a third of the sidecar), progress counters

    def __init__(self, target: Target | str, shared: ExportInputs) -> None:
        self.target = get_target(target) if isinstance(target, str) else target
        self.name = "export_" + self.target.name.replace(":", "_")
        self.shared = shared

    def tool_versions(self) -> Mapping[str, str]:
        from .clients import versions

        return {**library_versions(*self.target.format.tools), **versions()}

    def key_config(self, cfg: ExportConfig) -> dict[str, Any]:
        return key_config(self.target, cfg)

    def run(self, inputs: Mapping[str, Artifact], config: ExportConfig, ctx: RunContext) -> dict[str, Artifact]:
        from ..runtime.contract import load_contract, sidecar_path
        from ..formats import exporter

        fmt = exporter(self.target)
        t0 = time.perf_counter()
        data, ops = fmt.convert(self.shared, self.target, config)
        convert_s = time.perf_counter() - t0
        path = ctx.out_dir / self.target.filename
        ref = np.load(inputs["reference"].path)
        data, clf, report, scores = self._write_and_verify(fmt, data, path, inputs, config, ctx, ref)
        extra: dict[str, Any] = {}
        modality = self.shared.modality
        if self.target.calibrated and self.target.activation_bits == 8 and modality.selective \
                and (config.sensitivity_images or config.selective):
            extra = self._quantization_checks(fmt, config, ctx, report, clf, ref["probs"], scores)
            if extra.get("selective", {}).get("chosen"):
                chosen = extra["selective"].pop("_bytes")
                data, clf, report, scores = self._write_and_verify(fmt, chosen, path, inputs, config, ctx, ref)
                ops = fmt.ops(data)
            extra.get("selective", {}).pop("_bytes", None)
        report.update(extra)
        warns = self._calibration_report(fmt, config, report, data) if self.target.calibrated else []
        advice = over_budget_warning(self.target, report, config, str(ctx.run_dir), selective=modality.selective)
        clients = self._clients(path, clf, scores, report)
        if self.target.calibrated or advice or clients:
            report["warnings"] = warns + ([advice] if advice else []) + clients
        for w in report.get("warnings") or []:
            ctx.log(f"{self.target}: warning: {w}")
            logging.getLogger(__name__).warning("%s: %s", self.target, w)
        names, pixels, _ = self.shared.validation
        pick = golden_indices(scores, min(config.golden_images, len(names)))  # clear answers, not near-ties
        items = pixels[pick] if isinstance(pixels, np.ndarray) else [pixels[i] for i in pick]
        contract = load_contract(path).with_golden(golden_entries([Path(names[i]).name for i in pick], items,
                                                                  lambda xs: run_artifact(clf, xs),
                                                                  encode=self.shared.golden_fields))
        atomic_write_json(sidecar_path(path), contract.to_dict())
        files = self.target.format.files(path)
        report.update({"target": self.target.name, "file": path.name, "size_bytes": sum(f.stat().st_size for f in files),
                       "convert_s": round(convert_s, 2), "backend": f"{clf.backend_name} {clf.backend_version}",
                       "providers": clf.providers, "ops": ops, "input": contract.to_dict()["input"],
                       "output": contract.to_dict()["output"]})
        atomic_write_json(ctx.out_dir / "report.json", report)
        ctx.info = {k: report[k] for k in ("status", "accuracy", "top1_agreement", "size_bytes")}
        ctx.log(f"{self.target}: {report['status']} accuracy {report['accuracy']:.4f} "
                f"agreement {report['top1_agreement']:.4f} {report['reason']}")
        kind = self.target.format.name
        return {"model": Artifact.from_file(path, kind), "contract": Artifact.from_file(sidecar_path(path), "json"),
                "report": Artifact.from_file(ctx.out_dir / "report.json", "json"),
                **{f"model{f.suffix}": Artifact.from_file(f, f.suffix[1:]) for f in files[1:]}}

    def _write_and_verify(self, fmt: Any, data: bytes, path: Path, inputs: Mapping[str, Artifact],
                          config: ExportConfig, ctx: RunContext, ref: Any
                          ) -> tuple[bytes, Any, dict[str, Any], np.ndarray]:
        """Embed the contract, write the artifact, load it in its runtime and compare it with Keras; also
        returns the artifact's validation scores."""
        from ..runtime.classify import Classifier
        from ..runtime.contract import sidecar_path

        probe = fmt.probe(path, data)
        source = {"stage": self.name, "key": ctx.key, "run_dir": str(ctx.run_dir),
                  "keras_model_sha256": inputs["model"].sha256, "train_stage": self.shared.train_dir.name}
        contract = make_contract(self.target, probe, size=self.shared.size, labels=self.shared.labels,
                                 train=self.shared.record, source=source, versions=dict(self.tool_versions()),
                                 tokenizer=self.shared.tokenizer,
                                 card=model_card(self.target, self.shared.record, self.shared.labels,
                                                 author=config.author, license=config.license,
                                                 version=inputs["model"].sha256[:12]))
        data = fmt.embed(data, contract.to_dict())
        fmt.write(path, data)
        atomic_write_json(sidecar_path(path), contract.to_dict())
        names, pixels, labels = self.shared.validation
        clf = Classifier.load(path)
        t1 = time.perf_counter()
        scores = run_artifact(clf, pixels, "verify (validation)")
        verify_s = time.perf_counter() - t1
        report = compare(self.target, scores, ref["probs"], labels, budget_points=config.accuracy_budget)
        report["split"] = "validation"
        report["verify_ms_per_image"] = round(1000 * verify_s / max(len(pixels), 1), 3)
        _, t_pixels, t_labels = self.shared.test
        if len(t_pixels) and "test_probs" in ref.files and len(ref["test_probs"]) == len(t_pixels):
            t = compare(self.target, run_artifact(clf, t_pixels, "verify (test)"), ref["test_probs"], t_labels,
                        budget_points=config.accuracy_budget)
            report["test"] = {k: t.get(k) for k in ("images", "accuracy", "keras_accuracy", "accuracy_drop_points",
                                                     "accuracy_drop_ci95_points", "top1_agreement")}
        return data, clf, report, scores

    def _quantization_checks(self, fmt: Any, config: ExportConfig, ctx: RunContext, report: dict[str, Any],
                             clf: Any, ref_probs: np.ndarray, plain_scores: np.ndarray) -> dict[str, Any]:
        """The per-layer sensitivity table, and selective quantization when the artifact is over its budget."""
        _, pixels, _ = self.shared.validation
        debug = _spread(pixels, max(config.sensitivity_images, 16))
        t0 = time.perf_counter()
        try:
            sens = fmt.sensitivity(self.shared, self.target, config, debug)
        except Exception as exc:  # noqa: BLE001 - the artifact stands; the table says why it is missing
            ctx.log(f"{self.target}: no sensitivity table ({type(exc).__name__}: {exc})")
            return {"sensitivity": {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}}
        metric = "rmse_over_scale" if self.target.format.name == "tflite" else "sqnr_db"
        out: dict[str, Any] = {"sensitivity": {"split": "validation", "images": len(debug), "metric": metric,
                                               "seconds": round(time.perf_counter() - t0, 1), "layers": sens[:25]}}
        disagree = 100 * (1 - report["top1_agreement"])
        if not config.selective or max(report["accuracy_drop_points"], disagree) <= config.accuracy_budget:
            return out
        ctx.log(f"{self.target}: {report['accuracy_drop_points']:.2f} points below Keras and {disagree:.2f}% of "
                f"top-1 answers different on the validation split, over the budget of {config.accuracy_budget:g}: "
                "selective quantization")
        out["selective"] = self._selective(fmt, config, ctx, report, clf, ref_probs, plain_scores, sens, debug)
        ctx.log(f"{self.target}: selective: {out['selective']['reason']}")
        return out

    def _selective(self, fmt: Any, config: ExportConfig, ctx: RunContext, report: dict[str, Any], clf: Any,
                   ref_probs: np.ndarray, plain_scores: np.ndarray, sens: list[dict[str, Any]], debug: Any
                   ) -> dict[str, Any]:
        """Calibration variants first (they cost no speed), then layers kept in float within the latency limit.

        A candidate replaces the plain artifact only when it is measurably closer to the float model on the
        validation images (``quantize.selective.closer_z``), not merely one or two photos better."""
        from ..quantize.selective import MIN_Z, confirmed_ratio, kl_per_image, search
        from ..runtime.classify import Classifier

        _, pixels, labels = self.shared.validation
        ref_top1 = ref_probs.argmax(1)

        def evaluate(data: bytes) -> tuple[float, float, Any, np.ndarray]:
            c = self._classifier(data, ctx)
            scores = run_artifact(c, pixels, "selective: candidate")
            top1 = scores.argmax(1)
            return (float((top1 == labels).mean()), float((top1 == ref_top1).mean()), _call(c),
                    kl_per_image(ref_probs, scores))

        plain_run = _call(Classifier.load(clf.path, threads=1))
        float_run = _call(self._classifier(fmt.float_bytes(self.shared, config), ctx, float_model=True))
        # the float model's ratio caps the search's latency limit when it is under max_slowdown: confirmed then
        plain, float_lat, _ = confirmed_ratio(plain_run, float_run, 1 / config.selective_max_slowdown)
        plain_kl = kl_per_image(ref_probs, plain_scores)
        sel: dict[str, Any] = {"split": "validation", "plain_latency_ms": round(plain, 4),
                               "float_latency_ms": round(float_lat, 4), "min_z": MIN_Z,
                               "plain_kl_mean_x1000": round(1000 * float(plain_kl.mean()), 3), "tried": []}
        disagree = 100 * (1 - report["top1_agreement"])
        best = self._calibration_variants(fmt, config, report, sel, evaluate, plain_kl, disagree)
        if sel.get("chosen"):
            return sel
        res = search(lambda layers: fmt.with_float_layers(self.shared, self.target, config, layers, debug), evaluate,
                     ranked=[r["layer"] for r in sens], float_accuracy=report["keras_accuracy"],
                     budget_points=config.accuracy_budget, plain_run=plain_run, plain_latency_ms=plain,
                     float_latency_ms=float_lat, max_slowdown=config.selective_max_slowdown, plain_kl=plain_kl)
        sel["tried"] += res.tried
        sel["reason"] = res.reason
        if res.chosen is not None:
            sel.update(chosen=True, float_layers=res.chosen.float_layers, _bytes=res.chosen.data,
                       latency_vs_int8=round(res.chosen.latency_ratio, 3))
        elif best is not None:  # over the budget either way: keep the closer artifact, at no cost in speed
            sel.update(chosen=True, within_budget=False, calibration=best[1], float_layers=[], _bytes=best[2],
                       reason=f"{res.reason}; kept {best[1]}, which costs no speed, is {best[0]:.1f} standard errors "
                              f"closer to the float model and brings the validation disagreement from {disagree:.2f}% "
                              f"to {best[4]:.2f}% (drop {best[3]:.2f} points), still over the budget")
        else:
            sel["chosen"] = False
            sel["reason"] = (f"{res.reason}; kept the plain artifact (no calibration variant was measurably closer to "
                             "the float model)")
        return sel

    def _calibration_variants(self, fmt: Any, config: ExportConfig, report: dict[str, Any], sel: dict[str, Any],
                              evaluate: Any, plain_kl: np.ndarray, disagree: float
                              ) -> tuple[float, str, bytes, float, float] | None:
        """Try each calibration that costs no speed; one within the budget is chosen into ``sel``. Returns the
        variant measurably closest to the float model that did not make the disagreement worse, if any."""
        from ..quantize.selective import MIN_Z, closer_z

        best: tuple[float, str, bytes, float, float] | None = None
        for method, data in fmt.calibration_variants(self.shared, self.target, config):
            acc, agree, _, kl = evaluate(data)
            drop, dis, z = 100 * (report["keras_accuracy"] - acc), 100 * (1 - agree), closer_z(plain_kl, kl)
            sel["tried"].append({"calibration": method, "accuracy": round(acc, 4), "drop_points": round(drop, 3),
                                 "disagreement_points": round(dis, 3),
                                 "kl_mean_x1000": round(1000 * float(kl.mean()), 3), "closer_z": round(z, 2)})
            if z < MIN_Z:
                sel["tried"][-1]["note"] = f"not measurably closer to the float model (z {z:.2f} < {MIN_Z:g})"
                continue
            if dis <= disagree and (best is None or z > best[0]):
                best = (z, method, data, drop, dis)
            if max(drop, dis) <= config.accuracy_budget:
                sel.update(chosen=True, calibration=method, float_layers=[], _bytes=data,
                           reason=f"{method} brings the validation disagreement to {dis:.2f}% "
                                  f"(drop {drop:.2f} points), {z:.1f} standard errors closer to the float model")
                return best
        return best

    def _clients(self, path: Path, clf: Any, scores: np.ndarray, report: dict[str, Any]) -> list[str]:
        """The artifact in the clients apps use (``clients`` rows, ``use``); warnings for those that differ."""
        from .clients import check, phone_note, warnings

        names, items, _ = self.shared.validation
        rows = check(path, clf, items, names, scores.argmax(1))
        report["clients"] = [r.to_dict() for r in rows]
        report["use"] = phone_note(self.target, self.shared.modality)
        out = warnings(rows, self.target, self.shared.modality)
        if self.target.name == "onnx:int8":  # the graph ONNX Runtime really runs here
            from ..formats.onnx.graph import graph_report

            report["runtime_graph"], more = graph_report(path)
            out += more
        return out

    def _calibration_report(self, fmt: Any, config: ExportConfig, report: dict[str, Any], data: bytes) -> list[str]:
        """Put the calibration audit, the range audit and the weight rounding into ``report``; return the warnings."""
        report["calibration"] = dict(self.shared.calibration_audit, ranges=self._range_audit(fmt, data),
                                     weight_rounding=self._rounding_report(fmt, config))
        warns = list(report["calibration"]["warnings"]) + report["calibration"]["ranges"].get("warnings", [])
        backbone = self.shared.record.model["backbone"]
        risk = None if self.shared.tokenizer is not None else get_spec(backbone).quantization_risk
        if risk:
            worst = [r["layer"] for r in (report.get("sensitivity") or {}).get("layers", [])[:3]]
            warns.append(f"{backbone} is known to quantize badly: {risk}"
                         + (f"; the most sensitive layers here: {', '.join(worst)}" if worst else ""))
        return warns

    def _rounding_report(self, fmt: Any, config: ExportConfig) -> dict[str, Any]:
        """Whether the weights were re-rounded, which candidate was kept and why (held-back output errors)."""
        on = fmt.rounds_weights(self.shared, config)
        got = self.shared.rounding.get(self.target.name) or {}
        return {"enabled": bool(on), "chosen": got.get("chosen", "nearest" if not on else None),
                "layers_rewritten": got.get("layers", 0),
                "held_back_output_error": got.get("held_back_output_error"), "held_back_inputs": got.get("held_back"),
                "basis": "the candidate (nearest rounding, scale search, or scale search with GPTQ error feedback) "
                         "whose outputs are closest to the float model on calibration inputs held back from fitting"}

    def _range_audit(self, fmt: Any, data: bytes) -> dict[str, Any]:
        """Held-back (validation) inputs against the calibrated activation ranges, in the target's runtime."""
        _, items, _ = self.shared.validation
        held = _spread(np.asarray(self.shared.model_input(items)), RANGE_AUDIT_INPUTS)
        calib = _spread(np.asarray(self.shared.calibration), RANGE_AUDIT_INPUTS)
        try:
            return fmt.range_audit(self.shared, data, calib, held, len(self.shared.calibration))
        except Exception as exc:  # noqa: BLE001 - the artifact stands; the report says why the audit is missing
            return {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}

    def _classifier(self, data: bytes, ctx: RunContext, float_model: bool = False) -> Any:
        """A one-thread Classifier on candidate bytes (written next to the stage's files, with a contract)."""
        from ..runtime.classify import Classifier

        from ..formats import exporter

        tmp = ctx.out_dir / f".candidate-{'float' if float_model else 'int8'}{self.target.format.suffix}"
        exporter(self.target).write(tmp, data)
        try:
            return Classifier.load(tmp, threads=1, mean=0.0, std=1.0, labels=list(self.shared.labels))
        finally:
            for f in self.target.format.files(tmp):
                f.unlink(missing_ok=True)  # the interpreter holds the bytes



RANGE_AUDIT_INPUTS = 100  # calibration and held-back inputs each: shares of clipped values, not ranges, are compared


def _spread(a: np.ndarray, n: int) -> np.ndarray:
    """At most ``n`` items of ``a``, evenly spread over it (every class of a sorted split gets its turn)."""
    return a[np.linspace(0, len(a) - 1, min(n, len(a))).astype(int)]


def _call(clf: Any) -> Any:
    """One inference on a zero input: what the latency comparisons time."""
    x = np.zeros(clf.input_shape, clf.input_dtype)
    return lambda: clf.scores_from_input(x)
