"""The train stage: data -> backbone -> strategy -> head (and fine-tuning) -> model.keras + report."""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import numpy as np

from ..artifacts import Artifact, library_versions
from ..backbones import build as B
from ..backbones.specs import get_spec
from ..backbones.weights import resolve_weights
from ..config import Strategy, TrainConfig
from ..data.cache import decode_dataset, default_cache_dir
from ..data.scan import Dataset, split
from ..errors import EdgetlError
from ..pipeline import RunContext
from ..train_record import Split, TrainRecord
from . import loops
from .features import POOL, extract
from .metrics import classification_metrics
from .report import data_facts, save_run_files
from .strategy import choose_strategy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decoded:
    """A run's decoded images, their labels and the seeded split (indices into ``pixels``)."""

    pixels: np.ndarray
    labels: np.ndarray
    tr: np.ndarray
    va: np.ndarray
    te: np.ndarray
    images_key: str
    files: list[Path]
    classes: list[str]


@dataclass(frozen=True)
class FeaturePlan:
    """Which cached features a run needs: the final pooled features, the early layer's (auto and
    feature_extraction_early), the activations below the fine-tuning cut (fine-tuning on cached features), and
    the views (a flipped copy when flips are the only augmentation)."""

    first: str
    cut: str
    early: str
    wanted: frozenset[str]
    views: tuple[str, ...]
    cached_aug: bool
    final: str = f":{POOL}"

    @property
    def early_pool(self) -> str:
        return f"{self.early}:{POOL}"

    @classmethod
    def of(cls, cfg: TrainConfig, spec: Any, bb: Any) -> "FeaturePlan":
        cached_aug = set(cfg.augment) <= {"flip"}
        first = cfg.fine_tune_from or (bb.layers[-cfg.fine_tune_layers].name if cfg.fine_tune_layers
                                       else spec.fine_tune_from)
        cut = B.cut_below(bb, first)
        early = cfg.early_layer or spec.early_layer
        wanted = {f":{POOL}"}
        if cfg.strategy in (Strategy.AUTO, Strategy.FEATURE_EXTRACTION_EARLY):
            wanted.add(f"{early}:{POOL}")
        if cfg.strategy in (Strategy.AUTO, Strategy.FINE_TUNE) and cached_aug:
            wanted.add(cut)
        views = ("orig", "flip") if "flip" in cfg.augment and cached_aug else ("orig",)
        return cls(first, cut, early, frozenset(wanted), views, cached_aug)

    def stack(self, feats: dict, labels: np.ndarray, key: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The features of ``idx`` in every view, and their labels repeated to match."""
        return (np.concatenate([feats[(key, v)][idx] for v in self.views]),
                np.concatenate([labels[idx]] * len(self.views)))


class TrainStage:
    """Train a classifier; outputs ``model`` (model.keras), ``labels``, ``metrics`` and ``split``."""

    name: ClassVar[str] = "train"
    version: ClassVar[int] = 1
    config_type: ClassVar[type] = TrainConfig

    def __init__(self, dataset: Dataset, val_dataset: Dataset | None = None, *, progress: bool = True) -> None:
        self.dataset = dataset
        self.val_dataset = val_dataset
        self.progress = progress
        self.ray_stats: dict[str, Any] | None = None  # what the Ray feature extraction did, when it ran

    def tool_versions(self) -> Mapping[str, str]:
        return library_versions("tensorflow", "tensorflow-cpu", "keras")

    def run(self, inputs: Mapping[str, Artifact], config: TrainConfig, ctx: RunContext) -> dict[str, Artifact]:
        import keras

        t_start = time.perf_counter()
        keras.utils.set_random_seed(config.seed)
        cfg = config
        spec = get_spec(cfg.backbone)
        alpha = spec.resolve_alpha(cfg.alpha)
        size = spec.resolve_size(cfg.image_size)
        cache_dir = Path(cfg.cache_dir).expanduser() if cfg.cache_dir else default_cache_dir()
        timings: dict[str, float] = {}

        t = time.perf_counter()
        d = self._decode_and_split(cfg, size, cache_dir, inputs["data"].sha256)
        timings["decode_s"] = time.perf_counter() - t
        ctx.log(f"{len(d.tr)} training, {len(d.va)} validation and {len(d.te)} test images, "
                f"{len(self.dataset.classes)} classes")

        weights = resolve_weights(spec, alpha, size, cfg.weights, cfg.weights_dir)
        built = B.build_backbone(spec, alpha=alpha, size=size, weights=weights)
        bb = built.model
        plan = FeaturePlan.of(cfg, spec, bb)
        t = time.perf_counter()
        feats = self._extract(cfg, spec, alpha, size, bb, d, plan, cache_dir, f"{spec.name}|{alpha}|{size}|"
                              f"{inputs['weights'].sha256}", ctx)
        timings["features_s"] = time.perf_counter() - t

        strategy, choice = self._strategy(cfg, feats, plan, d, ctx)
        early = strategy == Strategy.FEATURE_EXTRACTION_EARLY
        head_key = plan.early_pool if early else plan.final
        head = B.build_head(int(feats[(head_key, "orig")].shape[-1]), len(self.dataset.classes),
                            units=cfg.head_units, dropout=cfg.dropout, seed=cfg.seed)
        model = B.build_classifier(spec, B.feature_model(bb, plan.early if early else None), head, size)
        kw = dict(batch_size=cfg.batch_size, patience=cfg.patience, seed=cfg.seed,
                  verbose=loops.verbosity() if self.progress else 0)
        t = time.perf_counter()
        bb.trainable = False
        history = self._fit_head(cfg, head, model, feats, d, plan, head_key, kw)
        timings["head_s"] = time.perf_counter() - t

        fine_tune: dict[str, Any] = {}
        if strategy in (Strategy.FINE_TUNE, Strategy.FINE_TUNE_ALL) and cfg.fine_tune_epochs:
            t = time.perf_counter()
            fine_tune = self._fine_tune(cfg, strategy, bb, head, model, feats, d, plan, history, kw)
            timings["fine_tune_s"] = time.perf_counter() - t
        model.trainable = False

        t = time.perf_counter()
        metrics, test_metrics = self._evaluate(model, d, cfg.batch_size)
        timings["evaluate_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t_start
        ctx.log(f"validation top-1 {metrics['top1']:.4f}" + (f", test top-1 {test_metrics['top1']:.4f}"
                                                             if test_metrics else "") + f" ({strategy.value})")
        return self._write(ctx, cfg, model, self.dataset.classes, history, metrics, choice, fine_tune, timings, spec,
                           alpha, size, built, d.files, d.tr, d.va, d.labels, d.te, test_metrics)

    @staticmethod
    def _strategy(cfg: TrainConfig, feats: Any, plan: FeaturePlan, d: "Decoded", ctx: RunContext
                  ) -> tuple[Strategy, dict[str, Any]]:
        """The strategy to train with: the config's, or what ``auto`` chooses from the training features."""
        if cfg.strategy != Strategy.AUTO:
            return cfg.strategy, {"strategy": cfg.strategy.value, "requested": cfg.strategy.value}
        tr = d.tr
        choice = choose_strategy(feats[(plan.final, "orig")][tr], feats[(plan.early_pool, "orig")][tr], d.labels[tr])
        choice["requested"] = "auto"
        strategy = Strategy(choice["strategy"])
        ctx.log(f"auto strategy chose {strategy.value}: {json.dumps(choice)}")
        return strategy, choice

    @staticmethod
    def _fit_head(cfg: TrainConfig, head: Any, model: Any, feats: Any, d: "Decoded", plan: FeaturePlan,
                  head_key: Any, kw: dict[str, Any]) -> list[dict[str, Any]]:
        """The head on the frozen backbone: on cached features, or on the images when they are augmented beyond
        flips (then each epoch needs the images themselves)."""
        if plan.cached_aug:
            x, y = plan.stack(feats, d.labels, head_key, d.tr)
            return loops.fit_arrays(head, "head", x, y, feats[(head_key, "orig")][d.va], d.labels[d.va],
                                    lr=cfg.learning_rate, epochs=cfg.epochs, **kw)
        return loops.fit_images(model, "head", d.pixels[d.tr], d.labels[d.tr], d.pixels[d.va], d.labels[d.va],
                                lr=cfg.learning_rate, epochs=cfg.epochs, augment=cfg.augment, **kw)

    def _decode_and_split(self, cfg: TrainConfig, size: int, cache_dir: Path, data_sha256: str) -> "Decoded":
        """Every image decoded once (cached by content) and the seeded split; a separate validation folder gives
        the validation images, and the test set then comes from the training folder."""
        dec = decode_dataset(self.dataset, size, cache_dir=cache_dir, strict=cfg.strict, progress=self.progress,
                             content_hash=data_sha256)
        labels = self.dataset.labels
        if self.val_dataset is not None:
            vdec = decode_dataset(self.val_dataset, size, cache_dir=cache_dir, strict=cfg.strict,
                                  progress=self.progress)
            pixels = np.concatenate([dec.pixels, vdec.pixels])
            labels = np.concatenate([labels, self.val_dataset.labels])
            tr = np.arange(len(dec.pixels))
            va = np.arange(len(dec.pixels), len(pixels))
            te = np.zeros(0, np.int64)
            if cfg.test_split > 0:  # the test set comes from the training folder
                tr_ds = type(self.dataset)(self.dataset.root, self.dataset.classes, self.dataset.samples)
                tr, te = split(tr_ds, cfg.test_split, cfg.seed)
            files = [s.path for s in self.dataset.samples] + [s.path for s in self.val_dataset.samples]
            return Decoded(pixels, labels, tr, va, te, f"{dec.key}+{vdec.key}", files, self.dataset.classes)
        parts = split(self.dataset, cfg.val_split, cfg.seed, cfg.test_split)
        te = parts[2] if len(parts) == 3 else np.zeros(0, np.int64)
        return Decoded(dec.pixels, labels, parts[0], parts[1], te, dec.key, [s.path for s in self.dataset.samples],
                       self.dataset.classes)

    def _extract(self, cfg: TrainConfig, spec: Any, alpha: float | None, size: int, bb: Any, d: "Decoded",
                 plan: "FeaturePlan", cache_dir: Path, model_id: str, ctx: RunContext) -> dict:
        """The cached features the plan needs, here or on a Ray cluster."""
        remote = None
        if cfg.ray:
            from ..distributed.ray_features import RayExtraction

            remote = RayExtraction(cfg.ray, [str(Path(f).resolve()) for f in d.files], spec.name, alpha, size,
                                   shard_images=cfg.ray_shard_images, worker_cpus=cfg.ray_worker_cpus,
                                   progress=self.progress)
        feats = extract(bb, B.preprocessing_layer(spec), d.pixels, sorted(plan.wanted), images_key=d.images_key,
                        model_id=model_id, cache_dir=cache_dir, views=plan.views, batch_size=cfg.batch_size,
                        verbose=loops.verbosity() if self.progress else 0, remote=remote)
        self.ray_stats = remote.stats if remote is not None else None
        if remote is not None and remote.stats:
            ctx.log(f"features on Ray: {remote.stats['shards']} shards ({remote.stats['resumed_shards']} resumed) "
                    f"on {remote.stats['workers']} worker(s) at {', '.join(remote.stats['nodes'])}")
        return feats

    def _fine_tune(self, cfg: TrainConfig, strategy: Strategy, bb: Any, head: Any, model: Any, feats: dict,
                   d: "Decoded", plan: "FeaturePlan", history: list, kw: dict) -> dict[str, Any]:
        """Fine-tune the top of the backbone (on cached features below the cut when augmentation allows) with
        BatchNorm in inference mode; its statistics are checked unchanged afterwards."""
        unfreeze_from = None if strategy == Strategy.FINE_TUNE_ALL else plan.first
        n_trainable = B.set_trainable_from(bb, unfreeze_from)
        bn_before = loops.bn_statistics(bb)
        fine_tune = {"from_layer": unfreeze_from or bb.layers[0].name, "trainable_layers": n_trainable,
                     "lr": cfg.fine_tune_lr}
        tr, va, labels, cut = d.tr, d.va, d.labels, plan.cut
        if strategy == Strategy.FINE_TUNE and plan.cached_aug:
            import keras

            _, top = B.split_at(bb, cut)
            fi = keras.Input(feats[(cut, "orig")].shape[1:])
            z = keras.layers.GlobalAveragePooling2D()(top(fi, training=False))
            x, y = plan.stack(feats, labels, cut, tr)
            fine_tune["cached_cut"] = cut
            history += loops.fit_arrays(keras.Model(fi, head(z)), "fine_tune", x, y, feats[(cut, "orig")][va],
                                        labels[va], lr=cfg.fine_tune_lr, epochs=cfg.fine_tune_epochs,
                                        start_epoch=len(history), **kw)
        else:
            history += loops.fit_images(model, "fine_tune", d.pixels[tr], labels[tr], d.pixels[va], labels[va],
                                        lr=cfg.fine_tune_lr, epochs=cfg.fine_tune_epochs, augment=cfg.augment,
                                        start_epoch=len(history), **kw)
        loops.assert_bn_unchanged(bn_before, loops.bn_statistics(bb))
        fine_tune["batchnorm_statistics_unchanged"] = True
        return fine_tune

    @staticmethod
    def _evaluate(model: Any, d: "Decoded", batch: int) -> tuple[dict[str, Any], dict[str, Any] | None]:
        metrics = classification_metrics(loops.predict_images(model, d.pixels[d.va], batch), d.labels[d.va],
                                         d.classes)
        metrics["split"] = "validation (also chose the best epoch: slightly optimistic)"
        if not len(d.te):
            return metrics, None
        test = classification_metrics(loops.predict_images(model, d.pixels[d.te], batch), d.labels[d.te],
                                      d.classes)
        test["split"] = "test (held out: used for no choice)"
        return metrics, test

    def _write(self, ctx: RunContext, cfg: TrainConfig, model: Any, classes: list[str], history: list, metrics: dict,
               choice: dict, fine_tune: dict, timings: dict, spec: Any, alpha: float | None, size: int, built: Any,
               files: list[Path], tr: np.ndarray, va: np.ndarray, labels: np.ndarray, te: np.ndarray,
               test_metrics: dict | None) -> dict[str, Artifact]:
        out = ctx.out_dir
        save_run_files(out, model, classes, cfg, history)
        from ..runtime.contract import IMAGE_INPUT  # normalization is inside the graph
        record = TrainRecord(
            "image", metrics, test_metrics, choice, fine_tune, timings,
            data_facts(self.dataset, self.val_dataset, cfg, classes, "images", (len(tr), len(va), len(te)), "path"),
            {"backbone": spec.name, "alpha": alpha, "input_size": size, "weights": built.weights.describe(),
             "params": int(model.count_params()), "input": {"shape": [1, size, size, 3], "dtype": "float32",
                                                             **IMAGE_INPUT}},
            dict(self.tool_versions()),
            Split("image", str(self.dataset.root),
                  {p: tuple(str(files[i]) for i in idx) for p, idx in (("train", tr), ("val", va), ("test", te))},
                  {p: tuple(int(x) for x in labels[idx]) for p, idx in (("train", tr), ("val", va), ("test", te))}),
            {"ray": self.ray_stats} if self.ray_stats else {})
        record.write(out)
        ctx.info = {"top1": metrics["top1"], "strategy": choice.get("strategy")}
        return {n: Artifact.from_file(out / f, k) for n, f, k in [
            ("model", "model.keras", "keras"), ("labels", "labels.txt", "labels"), ("metrics", "metrics.json", "json"),
            ("split", "split.json", "json"), ("history", "history.json", "json")]}
