"""Keras training loops: the head on cached features, fine-tuning above a cut, and the full-model fit."""
from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np

from .report import history_rows


EPOCH_LINES = -1  # not Keras's progress but one edgetl line per epoch (the CLI without -v)


def verbosity() -> int:
    """Keras's own progress with -v (or ``EDGETL_QUIET_NATIVE=0``); edgetl's epoch lines otherwise."""
    from ..runtime.quiet import quiet_native

    if quiet_native():
        return EPOCH_LINES
    return 1 if sys.stderr.isatty() else 2


def keras_verbose(verbose: int) -> int:
    return max(verbose, 0)


def _epoch_lines(phase: str, epochs: int, start_epoch: int) -> Any:
    """One line per epoch on stderr: the epoch, loss and accuracy, validation accuracy, elapsed time."""
    import keras

    class EpochLine(keras.callbacks.Callback):
        def on_train_begin(self, logs: Any = None) -> None:
            self.t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            m = logs or {}
            val = f", validation top-1 {m['val_accuracy']:.4f}" if "val_accuracy" in m else ""
            print(f"      {phase} epoch {start_epoch + epoch + 1}/{start_epoch + epochs}: loss {m.get('loss', 0):.4f}, "
                  f"top-1 {m.get('accuracy', 0):.4f}{val} ({time.perf_counter() - self.t0:.0f} s)", file=sys.stderr,
                  flush=True)

    return EpochLine()


def _with_progress(callbacks: list[Any], verbose: int, phase: str, epochs: int, start_epoch: int) -> list[Any]:
    return callbacks + [_epoch_lines(phase, epochs, start_epoch)] if verbose == EPOCH_LINES else callbacks


def _callbacks(patience: int) -> list[Any]:
    import keras

    return [keras.callbacks.EarlyStopping(monitor="val_accuracy", mode="max", patience=patience,
                                          restore_best_weights=True, verbose=0)] if patience else []


def _compile(model: Any, lr: float, steps: int | None = None, *, weight_decay: float = 0.0,
             label_smoothing: float = 0.0) -> None:
    """Adam at ``lr``; with ``steps``, warm up over the first 10% and decay to zero (the BERT fine-tuning recipe);
    ``weight_decay`` > 0: AdamW (decoupled decay); ``label_smoothing`` > 0: the labels must come one-hot."""
    import keras

    rate: Any = lr
    if steps:
        warm = max(1, steps // 10)
        rate = keras.optimizers.schedules.CosineDecay(0.0, max(1, steps - warm), warmup_target=lr, warmup_steps=warm)
    opt = keras.optimizers.AdamW(rate, weight_decay=weight_decay) if weight_decay else keras.optimizers.Adam(rate)
    loss: Any = (keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing) if label_smoothing
                 else "sparse_categorical_crossentropy")
    model.compile(optimizer=opt, loss=loss, metrics=["accuracy"])


def fit_arrays(model: Any, phase: str, x: np.ndarray, y: np.ndarray, xv: np.ndarray, yv: np.ndarray, *,
               lr: float, epochs: int, batch_size: int, patience: int, seed: int, start_epoch: int = 0,
               verbose: int = 2, warmup_decay: bool = False, weight_decay: float = 0.0,
               label_smoothing: float = 0.0) -> list[dict[str, Any]]:
    """Fit ``model`` on in-memory arrays (cached features; a tuple for a model of several inputs), early-stopping
    on validation accuracy; ``warmup_decay``: the rate warms up and decays over the planned epochs;
    ``weight_decay``: AdamW's decoupled decay; ``label_smoothing``: soft targets (1 - e on the label)."""
    import tensorflow as tf

    _compile(model, lr, epochs * -(-len(y) // batch_size) if warmup_decay else None, weight_decay=weight_decay,
             label_smoothing=label_smoothing)
    if label_smoothing:
        n = int(model.output_shape[-1])
        y, yv = np.eye(n, dtype=np.float32)[y], np.eye(n, dtype=np.float32)[yv]
    train = tf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=seed).batch(batch_size).prefetch(2)
    val = tf.data.Dataset.from_tensor_slices((xv, yv)).batch(batch_size)
    # a schedule that decays to zero ends on the weights it was planned for: the last epoch's (the BERT recipe);
    # restoring the epoch with the best validation score would pick noise on a few hundred texts
    stop = [] if warmup_decay else _callbacks(patience)
    h = model.fit(train, validation_data=val, epochs=epochs, verbose=keras_verbose(verbose), shuffle=False,
                  callbacks=_with_progress(stop, verbose, phase, epochs, start_epoch))
    return history_rows(phase, h.history, start_epoch)


def image_dataset(pixels: np.ndarray, labels: np.ndarray, *, batch_size: int, augment: tuple[str, ...] = (),
                  shuffle: bool = False, seed: int = 0) -> Any:
    """tf.data over decoded uint8 pixels: shuffle, batch, cast, optional augmentation, prefetch."""
    import keras
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices((pixels, labels))
    if shuffle:
        ds = ds.shuffle(len(pixels), seed=seed, reshuffle_each_iteration=True)
    ds = ds.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), y), num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        layers = []
        if "flip" in augment:
            layers.append(keras.layers.RandomFlip("horizontal", seed=seed))
        if "crop" in augment:
            layers.append(keras.layers.RandomZoom((-0.2, 0.0), seed=seed))
        if "rotation" in augment:
            layers.append(keras.layers.RandomRotation(0.05, seed=seed))
        if "brightness" in augment:
            layers.append(keras.layers.RandomBrightness(0.2, value_range=(0.0, 255.0), seed=seed))
        if "contrast" in augment:
            layers.append(keras.layers.RandomContrast(0.2, value_range=(0.0, 255.0), seed=seed))
        aug = keras.Sequential(layers, name="augment")
        ds = ds.map(lambda x, y: (aug(x, training=True), y), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def fit_images(model: Any, phase: str, pixels: np.ndarray, labels: np.ndarray, val_pixels: np.ndarray,
               val_labels: np.ndarray, *, lr: float, epochs: int, batch_size: int, patience: int, seed: int,
               augment: tuple[str, ...], start_epoch: int = 0, verbose: int = 2) -> list[dict[str, Any]]:
    """Fit the whole image model with a tf.data pipeline (the slow path: augmentation or unfrozen bottom)."""
    _compile(model, lr)
    train = image_dataset(pixels, labels, batch_size=batch_size, augment=augment, shuffle=True, seed=seed)
    val = image_dataset(val_pixels, val_labels, batch_size=batch_size)
    h = model.fit(train, validation_data=val, epochs=epochs, verbose=keras_verbose(verbose), shuffle=False,
                  callbacks=_with_progress(_callbacks(patience), verbose, phase, epochs, start_epoch))
    return history_rows(phase, h.history, start_epoch)


def predict_images(model: Any, pixels: np.ndarray, batch_size: int = 32) -> np.ndarray:
    ds = image_dataset(pixels, np.zeros(len(pixels), dtype=np.int64), batch_size=batch_size).map(lambda x, y: x)
    return np.asarray(model.predict(ds, verbose=0))


def bn_statistics(model: Any) -> list[np.ndarray]:
    import keras

    return [np.array(keras.ops.convert_to_numpy(w)) for l in model.layers
            if isinstance(l, keras.layers.BatchNormalization) for w in (l.moving_mean, l.moving_variance)]


def assert_bn_unchanged(before: list[np.ndarray], after: list[np.ndarray]) -> None:
    """The BatchNorm guard: fine-tuning must leave every moving mean and variance exactly as it was."""
    from ..errors import EdgetlError

    changed = sum(not np.array_equal(a, b) for a, b in zip(before, after))
    if changed or len(before) != len(after):
        raise EdgetlError(f"{changed} BatchNorm statistics changed while fine-tuning; they must stay frozen "
                          "(inference mode). This is a bug in edgetl: please report it.")
