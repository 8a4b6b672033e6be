"""Per-op-class work of the models behind the published anchors (edgetl/analysis/anchor_models.json).

    python benchmarks/anchor_models.py

Each model is built as its publication describes it (Keras applications, ImageNet head with 1000 classes, random
weights: the work does not depend on them) and analyzed by the same code that ``edgetl inspect`` runs on a
user's model (``analyze_keras`` + ``cost.work_of``), so anchors and user models are counted alike.
"""
from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "edgetl" / "analysis" / "anchor_models.json"


def builders() -> dict:
    import keras

    A = keras.applications
    return {
        "mobilenet_v1_1.0": lambda: A.MobileNet(weights=None, input_shape=(224, 224, 3)),
        "mobilenet_v2_1.0": lambda: A.MobileNetV2(weights=None, input_shape=(224, 224, 3)),
        "mobilenet_v2_0.35": lambda: A.MobileNetV2(weights=None, alpha=0.35, input_shape=(224, 224, 3)),
        "mobilenet_v3_large": lambda: A.MobileNetV3Large(weights=None, input_shape=(224, 224, 3),
                                                         include_preprocessing=False),
        "mobilenet_v3_small": lambda: A.MobileNetV3Small(weights=None, input_shape=(224, 224, 3),
                                                         include_preprocessing=False),
        "efficientnet_b0": lambda: A.EfficientNetB0(weights=None, input_shape=(224, 224, 3)),
        "efficientnet_lite0": lite0,
        "resnet50": lambda: A.ResNet50(weights=None, input_shape=(224, 224, 3)),
        "resnet50_299": lambda: A.ResNet50(weights=None, input_shape=(299, 299, 3)),
        "vgg16": lambda: A.VGG16(weights=None, input_shape=(224, 224, 3)),
        "inception_v3": lambda: A.InceptionV3(weights=None, input_shape=(299, 299, 3)),
        "resnet50v2_299": lambda: A.ResNet50V2(weights=None, input_shape=(299, 299, 3)),
        "resnet152v2_299": lambda: A.ResNet152V2(weights=None, input_shape=(299, 299, 3)),
        "vgg19": lambda: A.VGG19(weights=None, input_shape=(224, 224, 3)),
        "inception_resnet_v2": lambda: A.InceptionResNetV2(weights=None, input_shape=(299, 299, 3)),
        "densenet121": lambda: A.DenseNet121(weights=None, input_shape=(224, 224, 3)),
    }


def lite0():
    import keras

    from edgetl.backbones.efficientnet_lite import EfficientNetLite

    base = EfficientNetLite(0, input_shape=(224, 224, 3))
    x = keras.layers.GlobalAveragePooling2D()(base.output)
    return keras.Model(base.input, keras.layers.Dense(1000)(x))


def main() -> None:
    from edgetl.analysis.cost import work_of
    from edgetl.analysis.graph_stats import analyze_keras

    out = {}
    for name, build in builders().items():
        model = build()
        rep = analyze_keras(model=model)
        out[name] = {**work_of(rep).to_dict(), "params_m": round(model.count_params() / 1e6, 3),
                     "macs_m": round(rep.macs / 1e6, 1)}
        print(name, out[name], flush=True)
    OUT.write_text(json.dumps({"script": "benchmarks/anchor_models.py", "date": str(date.today()),
                               "models": out}, indent=1) + "\n")


if __name__ == "__main__":
    main()
