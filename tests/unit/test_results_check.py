"""benchmarks/results.py --check: the generated blocks and the figures in prose both follow their raw files."""
from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _results(monkeypatch, readme: Path):
    spec = importlib.util.spec_from_file_location("results_under_test", REPO / "benchmarks" / "results.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    monkeypatch.setattr(mod, "PROSE_CLAIMS", [(readme, w, fn) for _, w, fn in mod.PROSE_CLAIMS])
    return mod


def test_a_prose_figure_changed_by_hand_fails_the_check(tmp_path, monkeypatch) -> None:
    readme = tmp_path / "README.md"
    text = (REPO / "README.md").read_text()
    readme.write_text(text)
    mod = _results(monkeypatch, readme)
    assert mod.prose_problems() == []
    phrase = mod.PROSE_CLAIMS[0][2]()
    assert phrase in " ".join(text.split())
    first_number = next(tok for tok in phrase.split() if tok[0].isdigit())
    readme.write_text(" ".join(text.split()).replace(phrase, phrase.replace(first_number, "0.05-point", 1)))
    assert any("prose says otherwise" in p for p in mod.prose_problems())
