"""Cached-feature head training vs a plain frozen-backbone ``fit``, to the same validation accuracy.

Both train the same head (GAP -> Dense(256) -> Dropout(0.5) -> softmax) on the same frozen MobileNetV2
and the same seeded split. "Cached" runs the backbone once per image (cold: including that pass; warm:
a later run that finds the features on disk) and trains the head on the arrays. "Plain" fits the whole
image model each epoch with the backbone frozen, as the Keras transfer-learning guide does. The target
accuracy is the lower of the two runs' best validation accuracies minus 0.005, and each side's time is
the wall time until its validation accuracy first reaches the target.

    python benchmarks/cached_features.py --data ../shared/datasets/flowers --weights-dir ../shared/weights
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class EpochClock:
    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.rows: list[tuple[float, float]] = []

    def callback(self):  # type: ignore[no-untyped-def]
        import keras

        clock = self

        class CB(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):  # type: ignore[no-untyped-def]
                clock.rows.append((time.perf_counter() - clock.t0, float(logs["val_accuracy"])))

        return CB()


def time_to(rows: list[tuple[float, float]], target: float) -> float | None:
    return next((t for t, acc in rows if acc >= target), None)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--weights-dir", required=True)
    ap.add_argument("--epochs", type=int, default=15, help="head epochs for the cached run")
    ap.add_argument("--plain-epochs", type=int, default=6, help="epochs for the plain fit")
    ap.add_argument("--out", default="benchmarks/results/cached_features.json")
    args = ap.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    from edgetl.backbones import build as B
    from edgetl.backbones.specs import get_spec
    from edgetl.backbones.weights import resolve_weights
    from edgetl.data.cache import decode_dataset
    from edgetl.data.scan import scan, split
    from edgetl.train.features import POOL, extract
    from edgetl.train.loops import image_dataset

    spec = get_spec("mobilenet_v2")
    ds = scan(args.data)
    dec = decode_dataset(ds, 224, cache_dir=None, progress=False)
    X, y = dec.pixels, ds.labels
    tr, va = split(ds, 0.2, 42)
    w = resolve_weights(spec, 1.0, 224, "imagenet", args.weights_dir)
    cache = Path(tempfile.mkdtemp(prefix="edgetl-bench-"))

    def fresh_backbone():  # type: ignore[no-untyped-def]
        bb = B.build_backbone(spec, alpha=1.0, size=224, weights=w).model
        bb.trainable = False
        return bb

    def head() -> keras.Model:
        h = B.build_head(1280, len(ds.classes), units=256, dropout=0.5, seed=42)
        h.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
        return h

    results = {}
    for label in ("cached_cold", "cached_warm"):
        keras.utils.set_random_seed(42)
        bb = fresh_backbone()
        t0 = time.perf_counter()
        f = extract(bb, B.preprocessing_layer(spec), X, [f":{POOL}"], images_key=dec.key, model_id="bench",
                    cache_dir=cache, batch_size=32)[(f":{POOL}", "orig")]
        clock = EpochClock(t0)
        h = head()
        h.fit(f[tr], y[tr], validation_data=(f[va], y[va]), epochs=args.epochs, batch_size=32, verbose=0,
              callbacks=[clock.callback()])
        results[label] = clock.rows

    keras.utils.set_random_seed(42)
    bb = fresh_backbone()
    model = B.build_classifier(spec, bb, head(), 224)
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.perf_counter()
    clock = EpochClock(t0)
    model.fit(image_dataset(X[tr], y[tr], batch_size=32, shuffle=True, seed=42),
              validation_data=image_dataset(X[va], y[va], batch_size=32), epochs=args.plain_epochs, verbose=0,
              callbacks=[clock.callback()])
    results["plain"] = clock.rows

    best = {k: max(a for _, a in v) for k, v in results.items()}
    target = min(best["cached_cold"], best["plain"]) - 0.005
    times = {k: time_to(v, target) for k, v in results.items()}
    report = {
        "date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()} {os.cpu_count()} cores",
        "tensorflow": tf.__version__, "images": {"train": int(len(tr)), "val": int(len(va))},
        "target_val_accuracy": round(target, 4), "best_val_accuracy": {k: round(v, 4) for k, v in best.items()},
        "seconds_to_target": {k: (round(v, 1) if v else None) for k, v in times.items()},
        "speedup_cold": round(times["plain"] / times["cached_cold"], 1) if times["plain"] and times["cached_cold"] else None,
        "speedup_warm": round(times["plain"] / times["cached_warm"], 1) if times["plain"] and times["cached_warm"] else None,
        "epochs": {k: [(round(t, 1), round(a, 4)) for t, a in v] for k, v in results.items()},
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "epochs"}, indent=2))


if __name__ == "__main__":
    main()
