"""A device app that uses only edgetl.runtime: classify the images that appear in a folder.

Needs numpy, Pillow and ai-edge-litert (or onnxruntime): ``pip install "edgetl[runtime]"``, or copy
``edgetl/runtime/`` and ``edgetl/errors.py`` into the app. Prints one JSON line per image.

    python app.py MODEL.tflite --watch ./incoming            # keep watching; Ctrl-C stops
    python app.py MODEL.tflite --watch ./incoming --once     # classify what is there and exit
    python app.py MODEL.tflite --camera 0                    # frames from a camera, if OpenCV is installed
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from edgetl.errors import EdgetlError
from edgetl.runtime import Classifier
from edgetl.runtime.image import IMAGE_EXTENSIONS


def watch(clf: Classifier, folder: Path, once: bool, interval_s: float) -> int:
    seen: set[Path] = set()
    while True:
        for p in sorted(folder.iterdir()):
            if p in seen or p.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            seen.add(p)
            t = time.perf_counter()
            try:
                top = clf.classify(p, top_k=3)
            except EdgetlError as exc:
                print(json.dumps({"image": str(p), "error": str(exc)}), flush=True)
                continue
            print(json.dumps({"image": str(p), "label": top[0].label, "score": round(top[0].score, 4),
                              "top_k": [x.to_dict() for x in top],
                              "ms": round(1000 * (time.perf_counter() - t), 2)}), flush=True)
        if once:
            return 0
        time.sleep(interval_s)


def camera(clf: Classifier, index: int) -> int:
    try:
        import cv2
    except ImportError:
        print("OpenCV is not installed: pip install opencv-python-headless", file=sys.stderr)
        return 2
    cap = cv2.VideoCapture(index)
    while cap.isOpened():
        ok, frame = cap.read()
        if not ok:
            break
        top = clf.classify(frame[:, :, ::-1].copy(), top_k=1)[0]  # OpenCV gives BGR
        print(json.dumps({"label": top.label, "score": round(top.score, 4)}), flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--watch", type=Path)
    ap.add_argument("--once", action="store_true")
    ap.add_argument("--camera", type=int)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mean", type=float, help="only for a model without an edgetl contract")
    ap.add_argument("--std", type=float, help="only for a model without an edgetl contract")
    args = ap.parse_args()
    clf = Classifier.load(args.model, threads=args.threads, mean=args.mean, std=args.std)
    if clf.contract.golden:
        clf.selftest()
    if args.camera is not None:
        return camera(clf, args.camera)
    if args.watch is None:
        ap.error("give --watch FOLDER or --camera N")
    try:
        return watch(clf, args.watch, args.once, 0.5)
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
