"""The float-layer search's stopping rules, on pure-Python candidates (no model: the search is generic)."""
from __future__ import annotations

from typing import Any, Callable

from edgetl.quantize.selective import paired_latency_ms, search


def _work(n: int) -> Callable[[], Any]:
    return lambda: sum(range(n))


def _evaluate(agreement_by_k: dict[int, float], cost_by_k: dict[int, int]) -> Callable[[bytes], Any]:
    def evaluate(data: bytes) -> tuple[float, float, Callable[[], Any]]:
        k = int(data.decode())
        return 0.9, agreement_by_k[k], _work(cost_by_k[k])
    return evaluate


def test_paired_timing_ranks_more_work_as_slower() -> None:
    slow, fast = paired_latency_ms(_work(40_000), _work(4_000), runs=10, rounds=2)
    assert slow > 3 * fast > 0


def test_search_stops_at_the_first_candidate_within_the_budget() -> None:
    res = search(lambda layers: str(len(layers)).encode(), _evaluate({1: 0.98, 2: 0.999, 4: 1.0}, {1: 5000, 2: 5000, 4: 5000}),
                 ranked=["a", "b", "c", "d"], float_accuracy=0.9, budget_points=0.5, plain_run=_work(5000),
                 plain_latency_ms=1.0, float_latency_ms=None, max_slowdown=3.0)
    assert res.chosen is not None and res.chosen.float_layers == ["a", "b"]
    assert [t["float_layers"] for t in res.tried] == [1, 2] and res.tried[1]["latency_vs_int8"] < 3.0


def test_search_stops_when_a_candidate_timed_beside_the_plain_one_is_too_slow() -> None:
    res = search(lambda layers: str(len(layers)).encode(), _evaluate({1: 0.98, 2: 1.0}, {1: 5000, 2: 50_000}),
                 ranked=["a", "b"], float_accuracy=0.9, budget_points=0.5, plain_run=_work(5000),
                 plain_latency_ms=1.0, float_latency_ms=None, max_slowdown=3.0)
    assert res.chosen is None and "2 float layer(s)" in res.reason and "timed beside it" in res.reason
    assert res.tried[-1]["latency_vs_int8"] > 3.0


def test_a_float_model_faster_than_the_limit_lowers_it() -> None:
    """The float model at 1.1x the plain int8 one: a candidate at 2x is refused even under max_slowdown 3."""
    res = search(lambda layers: str(len(layers)).encode(), _evaluate({1: 1.0}, {1: 10_000}),
                 ranked=["a"], float_accuracy=0.9, budget_points=0.5, plain_run=_work(5000),
                 plain_latency_ms=1.0, float_latency_ms=1.1, max_slowdown=3.0)
    assert res.chosen is None and "1.10x" in res.reason
