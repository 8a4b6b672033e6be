"""The train stage: data -> backbone -> strategy -> head (and fine-tuning) -> model.keras + report."""
from __future__ import annotations

import json
import logging
import time
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
from .report import save_run_files
from .strategy import choose_strategy

log = logging.getLogger(__name__)


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
        dec = decode_dataset(self.dataset, size, cache_dir=cache_dir, strict=cfg.strict, progress=self.progress,
                             content_hash=inputs["data"].sha256)
        classes = self.dataset.classes
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
            images_key = f"{dec.key}+{vdec.key}"
            files = [s.path for s in self.dataset.samples] + [s.path for s in self.val_dataset.samples]
        else:
            pixels = dec.pixels
            parts = split(self.dataset, cfg.val_split, cfg.seed, cfg.test_split)
            tr, va = parts[0], parts[1]
            te = parts[2] if len(parts) == 3 else np.zeros(0, np.int64)
            images_key = dec.key
            files = [s.path for s in self.dataset.samples]
        timings["decode_s"] = time.perf_counter() - t
        ctx.log(f"{len(tr)} training, {len(va)} validation and {len(te)} test images, {len(classes)} classes")

        weights = resolve_weights(spec, alpha, size, cfg.weights, cfg.weights_dir)
        built = B.build_backbone(spec, alpha=alpha, size=size, weights=weights)
        bb = built.model
        pre = B.preprocessing_layer(spec)
        model_id = f"{spec.name}|{alpha}|{size}|{inputs['weights'].sha256}"

        # Which cached features does this run need?
        strategy = cfg.strategy
        cached_aug = set(cfg.augment) <= {"flip"}
        first = cfg.fine_tune_from or (bb.layers[-cfg.fine_tune_layers].name if cfg.fine_tune_layers
                                       else spec.fine_tune_from)
        cut = B.cut_below(bb, first)
        early = cfg.early_layer or spec.early_layer
        final_pool, early_pool = f":{POOL}", f"{early}:{POOL}"
        wanted = {final_pool}
        if strategy in (Strategy.AUTO, Strategy.FEATURE_EXTRACTION_EARLY):
            wanted.add(early_pool)
        if strategy in (Strategy.AUTO, Strategy.FINE_TUNE) and cached_aug:
            wanted.add(cut)
        views = ("orig", "flip") if "flip" in cfg.augment and cached_aug else ("orig",)
        t = time.perf_counter()
        remote = None
        if cfg.ray:
            from ..distributed.ray_features import RayExtraction

            remote = RayExtraction(cfg.ray, [str(Path(f).resolve()) for f in files], spec.name, alpha, size,
                                   shard_images=cfg.ray_shard_images, worker_cpus=cfg.ray_worker_cpus,
                                   progress=self.progress)
        feats = extract(bb, pre, pixels, sorted(wanted), images_key=images_key, model_id=model_id,
                        cache_dir=cache_dir, views=views, batch_size=cfg.batch_size,
                        verbose=loops.verbosity() if self.progress else 0, remote=remote)
        timings["features_s"] = time.perf_counter() - t
        self.ray_stats = remote.stats if remote is not None else None
        if remote is not None and remote.stats:
            ctx.log(f"features on Ray: {remote.stats['shards']} shards ({remote.stats['resumed_shards']} resumed) "
                    f"on {remote.stats['workers']} worker(s) at {', '.join(remote.stats['nodes'])}")

        choice: dict[str, Any] = {"strategy": strategy.value, "requested": strategy.value}
        if strategy == Strategy.AUTO:
            choice = choose_strategy(feats[(final_pool, "orig")][tr], feats[(early_pool, "orig")][tr], labels[tr])
            choice["requested"] = "auto"
            strategy = Strategy(choice["strategy"])
            ctx.log(f"auto strategy chose {strategy.value}: {json.dumps(choice)}")

        def stack(key: str, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            xs = [feats[(key, v)][idx] for v in views]
            return np.concatenate(xs), np.concatenate([labels[idx]] * len(views))

        head_key = early_pool if strategy == Strategy.FEATURE_EXTRACTION_EARLY else final_pool
        features = B.feature_model(bb, early if strategy == Strategy.FEATURE_EXTRACTION_EARLY else None)
        head = B.build_head(int(feats[(head_key, "orig")].shape[-1]), len(classes), units=cfg.head_units,
                            dropout=cfg.dropout, seed=cfg.seed)
        model = B.build_classifier(spec, features, head, size)
        kw = dict(batch_size=cfg.batch_size, patience=cfg.patience, seed=cfg.seed,
                  verbose=loops.verbosity() if self.progress else 0)
        history: list[dict[str, Any]] = []
        t = time.perf_counter()
        bb.trainable = False
        if cached_aug:
            x, y = stack(head_key, tr)
            history += loops.fit_arrays(head, "head", x, y, feats[(head_key, "orig")][va], labels[va],
                                        lr=cfg.learning_rate, epochs=cfg.epochs, **kw)
        else:  # augmentation other than flips needs the images themselves every epoch
            history += loops.fit_images(model, "head", pixels[tr], labels[tr], pixels[va], labels[va],
                                        lr=cfg.learning_rate, epochs=cfg.epochs, augment=cfg.augment, **kw)
        timings["head_s"] = time.perf_counter() - t

        fine_tune: dict[str, Any] = {}
        if strategy in (Strategy.FINE_TUNE, Strategy.FINE_TUNE_ALL) and cfg.fine_tune_epochs:
            t = time.perf_counter()
            unfreeze_from = None if strategy == Strategy.FINE_TUNE_ALL else first
            n_trainable = B.set_trainable_from(bb, unfreeze_from)
            bn_before = loops.bn_statistics(bb)
            fine_tune = {"from_layer": unfreeze_from or bb.layers[0].name, "trainable_layers": n_trainable,
                         "lr": cfg.fine_tune_lr}
            if strategy == Strategy.FINE_TUNE and cached_aug:
                import keras

                _, top = B.split_at(bb, cut)
                fi = keras.Input(feats[(cut, "orig")].shape[1:])
                z = keras.layers.GlobalAveragePooling2D()(top(fi, training=False))
                ft_model = keras.Model(fi, head(z))
                x, y = stack(cut, tr)
                fine_tune["cached_cut"] = cut
                history += loops.fit_arrays(ft_model, "fine_tune", x, y, feats[(cut, "orig")][va], labels[va],
                                            lr=cfg.fine_tune_lr, epochs=cfg.fine_tune_epochs,
                                            start_epoch=len(history), **kw)
            else:
                history += loops.fit_images(model, "fine_tune", pixels[tr], labels[tr], pixels[va], labels[va],
                                            lr=cfg.fine_tune_lr, epochs=cfg.fine_tune_epochs, augment=cfg.augment,
                                            start_epoch=len(history), **kw)
            loops.assert_bn_unchanged(bn_before, loops.bn_statistics(bb))
            fine_tune["batchnorm_statistics_unchanged"] = True
            timings["fine_tune_s"] = time.perf_counter() - t
        model.trainable = False

        t = time.perf_counter()
        probs = loops.predict_images(model, pixels[va], cfg.batch_size)
        timings["evaluate_s"] = time.perf_counter() - t
        metrics = classification_metrics(probs, labels[va], classes)
        metrics["split"] = "validation (also chose the best epoch: slightly optimistic)"
        test_metrics = None
        if len(te):
            test_metrics = classification_metrics(loops.predict_images(model, pixels[te], cfg.batch_size),
                                                  labels[te], classes)
            test_metrics["split"] = "test (held out: used for no choice)"
        timings["evaluate_s"] = time.perf_counter() - t
        timings["total_s"] = time.perf_counter() - t_start
        ctx.log(f"validation top-1 {metrics['top1']:.4f}" + (f", test top-1 {test_metrics['top1']:.4f}"
                                                             if test_metrics else "") + f" ({strategy.value})")
        return self._write(ctx, cfg, model, classes, history, metrics, choice, fine_tune, timings, spec, alpha,
                           size, built, files, tr, va, labels, te, test_metrics)

    def _write(self, ctx: RunContext, cfg: TrainConfig, model: Any, classes: list[str], history: list, metrics: dict,
               choice: dict, fine_tune: dict, timings: dict, spec: Any, alpha: float | None, size: int, built: Any,
               files: list[Path], tr: np.ndarray, va: np.ndarray, labels: np.ndarray, te: np.ndarray,
               test_metrics: dict | None) -> dict[str, Artifact]:
        out = ctx.out_dir
        save_run_files(out, model, classes, cfg, history)
        from ..runtime.contract import IMAGE_INPUT  # normalization is inside the graph
        record = TrainRecord(
            "image", metrics, test_metrics, choice, fine_tune, timings,
            {"root": str(self.dataset.root), "classes": classes, "counts": self.dataset.counts(),
             "train_images": int(len(tr)), "val_images": int(len(va)), "test_images": int(len(te)),
             "skipped": [{"path": p, "reason": r} for p, r in self.dataset.skipped +
                         (self.val_dataset.skipped if self.val_dataset else [])],
             "val_source": cfg.val_data or f"seeded split {cfg.val_split} (seed {cfg.seed})"},
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
