"""Guards that no other test triggers: the BatchNorm guard, export's exit status, Keras safe-mode refusals."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.tf


def _bn_model():  # type: ignore[no-untyped-def]
    import keras

    inp = keras.Input((4, 4, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inp)
    x = keras.layers.BatchNormalization()(x)
    out = keras.layers.Dense(2, activation="softmax")(keras.layers.GlobalAveragePooling2D()(x))
    return keras.Model(inp, out)


def test_batchnorm_guard_fires_when_a_statistic_moves() -> None:
    pytest.importorskip("keras")
    from edgetl.errors import EdgetlError
    from edgetl.train.loops import assert_bn_unchanged, bn_statistics

    model = _bn_model()
    x, y = np.random.default_rng(0).normal(5, 3, (16, 4, 4, 3)).astype("float32"), np.arange(16) % 2
    model.compile("adam", "sparse_categorical_crossentropy")
    before = bn_statistics(model)
    model.fit(x, y, epochs=1, verbose=0)  # BatchNorm trainable: fit moves the moving mean and variance
    with pytest.raises(EdgetlError, match="BatchNorm statistics changed"):
        assert_bn_unchanged(before, bn_statistics(model))
    # the way edgetl fine-tunes (BatchNorm layers made non-trainable) leaves them exactly as they were
    for layer in model.layers:
        if layer.__class__.__name__ == "BatchNormalization":
            layer.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    before = bn_statistics(model)
    model.fit(x, y, epochs=1, verbose=0)
    assert_bn_unchanged(before, bn_statistics(model))


@pytest.mark.slow
def test_export_exit_status_follows_the_verdicts(tiny_run: Path) -> None:
    """`edgetl export` exits 1 exactly when a row is not ok; with a zero budget the tiny model's int8 copies
    are judged on any drop at all."""
    from click.testing import CliRunner

    from edgetl.cli.commands.export import export, finish

    res = CliRunner().invoke(export, [str(tiny_run), "--to", "tflite:int8,tflite:dynamic", "--accuracy-budget", "0",
                                      "--json"], catch_exceptions=False)
    rows = json.loads(res.output)["artifacts"]
    assert len(rows) == 2
    assert res.exit_code == (1 if any(r["status"] != "ok" for r in rows) else 0)
    with pytest.raises(SystemExit) as e:
        finish([{**rows[0], "status": "over budget", "reason": "over budget"}], True)
    assert e.value.code == 1


def test_safe_mode_refusal_names_what_it_refused(tmp_path: Path) -> None:
    pytest.importorskip("keras")
    import keras

    from edgetl.errors import ModelFileError
    from edgetl.model_io import load_keras

    inp = keras.Input((4,))
    m = keras.Model(inp, keras.layers.Lambda(lambda t: t * 2)(inp))
    p = tmp_path / "lam.keras"
    m.save(p)
    with pytest.raises(ModelFileError, match="Lambda layer"):
        load_keras(p)
    # a refusal that is not about a Lambda layer is not called one
    m2 = keras.Model(inp, keras.layers.Dense(2, activation="relu")(inp))
    p2 = tmp_path / "act.keras"
    m2.save(p2)
    with zipfile.ZipFile(p2) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    cfg = json.loads(members["config.json"])
    text = json.dumps(cfg).replace('"activation": "relu"', '"activation": {"class_name": "__lambda__", "config": '
                                   '{"code": "lambda x: x", "defaults": null, "closure": null}}')
    p3 = tmp_path / "lam_act.keras"
    with zipfile.ZipFile(p3, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, text if n == "config.json" else d)
    with pytest.raises(ModelFileError) as e:
        load_keras(p3)
    assert "Lambda layer" not in str(e.value)
