from pathlib import Path
from typing import Any, ClassVar, Mapping

import pytest

from edgetl.artifacts import Artifact, atomic_write_bytes, cache_key
from edgetl.pipeline import RunContext, run_stage


class Echo:
    name: ClassVar[str] = "echo"
    version: ClassVar[int] = 1

    def __init__(self, fail: bool = False) -> None:
        self.calls = 0
        self.fail = fail

    def tool_versions(self) -> Mapping[str, str]:
        return {"echo": "1"}

    def run(self, inputs: Mapping[str, Artifact], config: Any, ctx: RunContext) -> dict[str, Artifact]:
        self.calls += 1
        p = ctx.out_dir / "out.txt"
        atomic_write_bytes(p, str(config["text"]).encode())
        if self.fail:
            raise RuntimeError("boom")
        return {"out": Artifact.from_file(p, "text")}


def test_cache_key_depends_on_everything() -> None:
    base = cache_key("s", 1, {"a": 1}, {"in": "h"}, {"tf": "2"})
    assert base == cache_key("s", 1, {"a": 1}, {"in": "h"}, {"tf": "2"})
    others = {cache_key("s", 2, {"a": 1}, {"in": "h"}, {"tf": "2"}), cache_key("s", 1, {"a": 2}, {"in": "h"}, {"tf": "2"}),
              cache_key("s", 1, {"a": 1}, {"in": "x"}, {"tf": "2"}), cache_key("s", 1, {"a": 1}, {"in": "h"}, {"tf": "3"})}
    assert base not in others and len(others) == 4


def test_stage_is_cached_and_rerun_on_change(tmp_path: Path) -> None:
    st = Echo()
    r1 = run_stage(st, {}, {"text": "a"}, tmp_path, config_dict={"text": "a"})
    r2 = run_stage(st, {}, {"text": "a"}, tmp_path, config_dict={"text": "a"})
    assert (r1.cached, r2.cached, st.calls) == (False, True, 1)
    assert r2.outputs["out"].path.read_text() == "a"
    r3 = run_stage(st, {}, {"text": "b"}, tmp_path, config_dict={"text": "b"})
    assert not r3.cached and st.calls == 2 and r3.out_dir != r1.out_dir


def test_failed_stage_leaves_nothing_that_looks_complete(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError):
        run_stage(Echo(fail=True), {}, {"text": "a"}, tmp_path, config_dict={"text": "a"})
    assert list(tmp_path.iterdir()) == []


def test_corrupted_stage_folder_is_rebuilt(tmp_path: Path) -> None:
    st = Echo()
    r1 = run_stage(st, {}, {"text": "a"}, tmp_path, config_dict={"text": "a"})
    r1.outputs["out"].path.unlink()  # an output went missing: the folder is not trusted
    r2 = run_stage(st, {}, {"text": "a"}, tmp_path, config_dict={"text": "a"})
    assert not r2.cached and st.calls == 2 and r2.outputs["out"].path.read_text() == "a"


def test_atomic_write_leaves_no_partial_file(tmp_path: Path) -> None:
    class Boom(bytes):
        pass

    target = tmp_path / "f.bin"
    with pytest.raises(TypeError):
        atomic_write_bytes(target, object())  # type: ignore[arg-type]
    assert not target.exists() and list(tmp_path.iterdir()) == []
