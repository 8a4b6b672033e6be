"""benchmarks/results.py --check: the generated blocks follow their raw files, and every figure in the prose is
listed in benchmarks/figures.yaml (benchmarks/prose.py), a measured one rebuilt from its raw file."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _module(name: str):
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", REPO / "benchmarks" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_repository_prose_is_fully_accounted_for() -> None:
    results = _module("results")
    assert results.prose_problems() == []


def test_a_measured_figure_changed_by_hand_fails_the_check(tmp_path) -> None:
    results, prose = _module("results"), _module("prose")
    phrase = results.CLAIMS["nearest_gap"]()
    name = next(str(p.relative_to(REPO)) for p in prose.prose_files() if phrase in prose.prose(p.read_text()))
    readme = tmp_path / name  # the file whose prose holds the claim (docs/export.md)
    readme.parent.mkdir(parents=True, exist_ok=True)
    text = (REPO / name).read_text()
    readme.write_text(text)
    ledger = {name: prose.load_ledger()[name]}
    assert prose.problems(results.CLAIMS, ledger, [readme], tmp_path) == []
    first_number = next(tok for tok in phrase.split() if tok[0].isdigit())
    readme.write_text(" ".join(text.split()).replace(phrase, phrase.replace(first_number, "0.05-point", 1)))
    bad = prose.problems(results.CLAIMS, ledger, [readme], tmp_path)
    assert any("no longer in the prose" in p for p in bad) and any("'0.05-point'" in p for p in bad), bad


def test_any_figure_changed_or_added_fails_and_code_and_names_do_not_count(tmp_path) -> None:
    prose = _module("prose")
    doc = tmp_path / "README.md"
    doc.write_text("Warm-up stops when calls are within 5% of the five before.\n\n`--set x=7` int8 top-1 "
                   "MobileNetV2 TREC-6\n\n<!-- results:a begin (benchmarks/results.py) -->\n9.99 ms\n"
                   "<!-- results:a end -->\n")
    ledger = {"README.md": [{"kind": "setting", "context": "within 5% of the five"}]}
    assert prose.problems({}, ledger, [doc], tmp_path) == []
    doc.write_text(doc.read_text().replace("5%", "4%"))
    bad = prose.problems({}, ledger, [doc], tmp_path)
    assert len(bad) == 2 and "'4%'" in bad[1], bad
    doc.write_text(doc.read_text().replace("4%", "5%") + "\nIt took 12.5 s on a Pi.\n")
    bad = prose.problems({}, ledger, [doc], tmp_path)
    assert len(bad) == 1 and "'12.5 s'" in bad[0], bad
    bad = prose.problems({}, {"README.md": [{"kind": "guess", "context": "within 5% of the five"}]}, [doc], tmp_path)
    assert any("kind 'guess'" in p for p in bad)
    bad = prose.problems({}, {"README.md": [{"kind": "measured", "context": "within 5% of the five"}]}, [doc],
                         tmp_path)
    assert any("needs a claim" in p for p in bad)
