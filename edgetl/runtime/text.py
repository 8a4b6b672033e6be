"""TextClassifier: a text model (token ids in) with the tokenizer its contract carries; numpy only."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..errors import ModelFileError, RuntimeBackendError
from .classify import Classifier, Prediction
from .tokenizer import WordPieceTokenizer


class TextClassifier(Classifier, kind="text"):
    """Classify texts on a device: tokenizes with the contract's WordPiece tokenizer, then runs the model.

    Example:
        >>> clf = TextClassifier.load("model_dynamic.tflite", threads=1)  # doctest: +SKIP
        >>> clf.classify("How far is it from Denver to Aspen ?", top_k=1)[0].label  # doctest: +SKIP
        'NUM'
    """

    def __init__(self, path: Any, contract: Any, backends: list[Any]) -> None:
        super().__init__(path, contract, backends)
        if contract.kind != "text" or contract.tokenizer is None:
            raise RuntimeBackendError(f"{path} is an image model; use Classifier for it.")
        try:
            self.tokenizer = WordPieceTokenizer.from_dict(contract.tokenizer)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path}: the contract's tokenizer is unusable ({exc}). Re-export the model with "
                                 "'edgetl export'.") from None
        self.length = int(self.input_shape[-1])

    def encode(self, text: str) -> np.ndarray:
        """Token ids (1, length) as the model takes them."""
        if not isinstance(text, str):
            raise TypeError(f"a text model classifies str, not {type(text).__name__}")
        return self.tokenizer.batch([text], self.length).astype(self.input_dtype, copy=False)

    def model_input(self, text: str) -> np.ndarray:  # type: ignore[override]
        return self.encode(text)

    def scores(self, text: str) -> np.ndarray:  # type: ignore[override]
        """Class probabilities for one text."""
        return self.scores_from_input(self.encode(text))

    def classify(self, text: str, top_k: int = 5) -> list[Prediction]:  # type: ignore[override]
        return self._top(self.scores(text), top_k)

    def classify_batch(self, texts: Iterable[str], top_k: int = 5) -> list[list[Prediction]]:  # type: ignore[override]
        return [self.classify(t, top_k) for t in texts]

    def selftest(self, *, tolerance: float | None = None) -> dict[str, Any]:
        """Rerun the golden texts stored at export time; raise RuntimeBackendError on any mismatch."""
        golden = self._golden_entries()
        if not all("text" in g for g in golden):
            raise ModelFileError(f"{self.path}: its golden entries carry no texts; export it again with 'edgetl "
                                 "export'.")
        tol = tolerance if tolerance is not None else float(self.contract.meta.get("golden_tolerance", 0.02))
        results = []
        for g in golden:
            s = self.scores(str(g["text"]))
            diff = float(np.max(np.abs(s - np.asarray(g["scores"], np.float32))))
            results.append({"name": g.get("name"), "expected": g["top1"], "got": int(np.argmax(s)),
                            "max_abs_diff": diff, "ok": int(np.argmax(s)) == g["top1"] and diff <= tol})
        bad = [r for r in results if not r["ok"]]
        if bad:
            raise RuntimeBackendError(f"{self.path}: selftest failed on {len(bad)} of {len(results)} golden texts "
                                      f"({'; '.join(str(r['name']) for r in bad)}). Check the runtime version and "
                                      "that the file is not corrupted.")
        return {"ok": True, "texts": len(results), "tolerance": tol, "results": results,
                "backend": f"{self.backend_name} {self.backend_version}"}
