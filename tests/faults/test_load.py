"""Load: the runtime under 8 threads; a benchmark that keeps going when one artifact kills its worker."""
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from edgetl.runtime import Classifier

pytestmark = pytest.mark.litert
pytest.importorskip("ai_edge_litert")
CALLS = int(os.environ.get("EDGETL_LOAD_CALLS", "100"))  # per thread; the full run used 1000


def test_eight_threads_many_calls_match_single_thread(shared: Path) -> None:
    clf = Classifier.load(shared / "models/tf2_mobilenet_v2_1.0_224_ptq.tflite", mean=127.5, std=127.5, threads=1,
                          workers=4)
    rng = np.random.default_rng(0)
    inputs = [rng.integers(0, 255, (224, 224, 3), dtype=np.uint8) for _ in range(16)]
    expected = [clf.scores(x) for x in inputs]
    errors: list[str] = []
    done = [0] * 8

    def worker(k: int) -> None:
        r = np.random.default_rng(k)
        for _ in range(CALLS):
            j = int(r.integers(len(inputs)))
            try:
                if not np.array_equal(clf.scores(inputs[j]), expected[j]):
                    errors.append(f"thread {k}: wrong scores for input {j}")
            except Exception as exc:  # any exception is a failure of the test, with its text
                errors.append(f"thread {k}: {exc!r}")
            done[k] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert errors == [] and done == [CALLS] * 8
