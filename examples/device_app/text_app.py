"""A device app for a text model that uses only edgetl.runtime: classify each line read from stdin (or a file).

Needs numpy and ai-edge-litert (or onnxruntime): ``pip install "edgetl[runtime]"``, or copy
``edgetl/runtime/`` and ``edgetl/errors.py`` into the app. The tokenizer travels in the model's contract.
Prints one JSON line per text, for example to route questions or filter spam on a kiosk or a gateway:

    python text_app.py model_dynamic.tflite < messages.txt
    python text_app.py model_dynamic.tflite --file messages.txt --threads 1 --selftest
"""
from __future__ import annotations

import argparse
import json
import sys
import time

from edgetl.errors import EdgetlError
from edgetl.runtime import TextClassifier


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("--file", help="read texts from this file (one per line) instead of stdin")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--top-k", type=int, default=1)
    ap.add_argument("--selftest", action="store_true", help="check the golden texts stored at export first")
    args = ap.parse_args()
    try:
        clf = TextClassifier.load(args.model, threads=args.threads)
        if args.selftest:
            clf.selftest()
    except EdgetlError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    src = open(args.file, encoding="utf-8") if args.file else sys.stdin
    with src:
        for line in src:
            text = line.rstrip("\n")
            if not text.strip():
                continue
            t = time.perf_counter()
            top = clf.classify(text, top_k=args.top_k)
            print(json.dumps({"text": text, "label": top[0].label, "score": round(top[0].score, 4),
                              "top_k": [x.to_dict() for x in top], "ms": round(1000 * (time.perf_counter() - t), 2)}),
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
