"""The BERT form of a text model's inputs: token ids, an attention mask and segment ids, as MediaPipe's
``TextClassifier`` and the LiteRT Task Library feed them.

edgetl's text ``.tflite`` files take all three (named ``ids``, ``mask``, ``segment_ids``) so that phone task
libraries load them; the mask and the segment ids carry nothing the ids do not (1 where a token is, 0 for one
sentence), so edgetl's runtime derives them from the ids. numpy only.
"""
from __future__ import annotations

from typing import Any

import numpy as np

ROLES = ("ids", "mask", "segment_ids")


def role_of(tensor_name: str) -> str | None:
    """Which BERT input a tensor is, from its name (``serving_default_segment_ids:0`` -> ``segment_ids``)."""
    base = tensor_name.split(":")[0]
    for role in sorted(ROLES, key=len, reverse=True):
        if base == role or base.endswith("_" + role):
            return role
    return None


def roles(details: list[dict[str, Any]]) -> list[str] | None:
    """The role of each input (interpreter input details, in order) of a BERT-form model, else None."""
    if len(details) != 3:
        return None
    got = [role_of(str(d.get("name", ""))) for d in details]
    same = len({tuple(int(x) for x in d["shape"]) for d in details}) == 1
    if sorted(r for r in got if r) != sorted(ROLES) or not same or any(np.dtype(d["dtype"]) != np.int32
                                                                        for d in details):
        return None
    return got  # type: ignore[return-value]


def companions(ids: np.ndarray) -> dict[str, np.ndarray]:
    """The mask and segment ids that go with ``ids`` (padding is id 0)."""
    return {"mask": (ids != 0).astype(np.int32), "segment_ids": np.zeros_like(ids, dtype=np.int32)}
