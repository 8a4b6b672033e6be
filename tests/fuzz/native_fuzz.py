"""Fuzz the native loaders (LiteRT, ONNX Runtime, Keras) through edgetl's own load paths, in a child process.

    python -m tests.fuzz.native_fuzz KIND SEED_FILE CASES [OPTIONS_JSON]

KIND is tflite, onnx or keras. Prints one JSON line: counts of correct loads, edgetl errors, other
exceptions (bugs) and the first few of those. A native crash kills this process, which the caller
(tests/fuzz/test_fuzz_native.py) reports with the case number written to stderr before each case.
"""
from __future__ import annotations

import json
import random
import sys
import tempfile
from pathlib import Path


def mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 12)):
        i = rng.randrange(min(len(b), 4096)) if rng.random() < 0.5 else rng.randrange(len(b))
        b[i] = rng.randrange(256)
    if rng.random() < 0.2:
        b = b[: rng.randrange(len(b))]
    return bytes(b)


def main() -> int:
    kind, seed_file, cases = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    opts = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
    from edgetl.errors import EdgetlError

    if kind == "keras":
        from edgetl.model_io import load_keras as load
    else:
        from edgetl.runtime import Classifier

        def load(p: Path):  # type: ignore[no-untyped-def]
            clf = Classifier.load(p, **opts)
            clf.scores_from_input(__import__("numpy").zeros(clf.input_shape, clf.input_dtype))
            return clf

    seed = seed_file.read_bytes()
    rng = random.Random(int(opts.pop("seed", 0)) if "seed" in opts else 0)
    counts = {"cases": 0, "loaded": 0, "edgetl_error": 0, "other_exception": 0}
    others: list[str] = []
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"m{seed_file.suffix}"
        for i in range(cases):
            path.write_bytes(mutate(rng, seed))
            print(f"case {i}", file=sys.stderr, flush=True)
            counts["cases"] += 1
            try:
                load(path)
                counts["loaded"] += 1
            except EdgetlError:
                counts["edgetl_error"] += 1
            except Exception as exc:  # a bug: every failure should be edgetl's own error
                counts["other_exception"] += 1
                if len(others) < 5:
                    others.append(f"case {i}: {type(exc).__name__}: {str(exc)[:200]}")
    print(json.dumps({**counts, "examples": others}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
