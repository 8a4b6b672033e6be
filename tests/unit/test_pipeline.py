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
    assert [p.name for p in tmp_path.iterdir()] == [".locks"]  # the lock files only; no stage, no .tmp folder


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


SLOW_STAGE = '''
import sys, time
from pathlib import Path
from edgetl.artifacts import Artifact, atomic_write_bytes
from edgetl.pipeline import run_stage

class Slow:
    name = "slow"
    version = 1
    def tool_versions(self):
        return {}
    def run(self, inputs, config, ctx):
        (ctx.out_dir / "part1").write_text(sys.argv[2])
        time.sleep(1.5)
        p = ctx.out_dir / "out.txt"
        atomic_write_bytes(p, b"done")
        return {"out": Artifact.from_file(p, "text")}

res = run_stage(Slow(), {}, None, Path(sys.argv[1]), config_dict={"x": 1})
print("CACHED" if res.cached else "RAN", res.out_dir)
'''


def test_two_processes_on_one_stage_take_turns(tmp_path: Path) -> None:
    """The second process waits for the first one's stage and reuses it; neither deletes the other's folder."""
    import subprocess
    import sys

    script = tmp_path / "slow.py"
    script.write_text(SLOW_STAGE)
    run = tmp_path / "run"
    procs = [subprocess.Popen([sys.executable, str(script), str(run), str(i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    words = sorted(o[0].split()[0] for o in outs)
    assert words == ["CACHED", "RAN"], outs
    dirs = {o[0].split()[1] for o in outs}
    assert len(dirs) == 1 and (Path(dirs.pop()) / "stage.json").is_file()
    assert not list(run.glob("*.tmp-*"))
