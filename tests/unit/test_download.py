import io
import tarfile
from pathlib import Path

import pytest

from edgetl.data.download import resolve_data, safe_extract
from edgetl.errors import DataError


def _tar(path: Path, members: dict[str, bytes], link: str | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo("evil_link")
            info.type = tarfile.SYMTYPE
            info.linkname = link
            tar.addfile(info)
    return path


def test_members_escaping_the_target_are_refused(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(DataError, match="outside"):
        safe_extract(_tar(tmp_path / "a.tgz", {"ok/a.txt": b"a", "../../etc/evil": b"x"}), dest)
    with pytest.raises(DataError, match="outside"):
        safe_extract(_tar(tmp_path / "b.tgz", {"/tmp/abs_evil": b"x"}), dest)
    with pytest.raises(DataError, match="link or device"):
        safe_extract(_tar(tmp_path / "c.tgz", {"ok/a.txt": b"a"}, link="/etc/passwd"), dest)
    assert list(dest.iterdir()) == [] and not (tmp_path / "etc").exists()
    safe_extract(_tar(tmp_path / "d.tgz", {"flowers/daisy/a.jpg": b"a"}), dest)
    assert (dest / "flowers" / "daisy" / "a.jpg").read_bytes() == b"a"


def test_plain_paths_pass_through_and_unknown_downloads_are_refused(tmp_path: Path) -> None:
    assert resolve_data("photos/", tmp_path) == "photos/"
    with pytest.raises(DataError, match="Unknown dataset"):
        resolve_data("download:imagenet", tmp_path)
