from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from edgetl.data.cache import decode_dataset
from edgetl.data.scan import scan, split
from edgetl.errors import DataError
from edgetl.runtime.image import load_array


def _img(path: Path, mode: str = "RGB", size=(20, 30), color=(200, 10, 10), fmt: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == "CMYK":
        im = Image.new("CMYK", size, (0, 255, 255, 0))
    elif mode == "I;16":
        im = Image.fromarray(np.full(size[::-1], 40000, np.uint16))
    elif mode == "P":
        im = Image.new("RGB", size, color).convert("P")
    elif mode in ("RGBA", "LA"):
        im = Image.new(mode, size, (color if mode == "RGBA" else color[:1]) + (0,))  # fully transparent
    elif mode == "L":
        im = Image.new("L", size, 128)
    else:
        im = Image.new(mode, size, color)
    im.save(path, format=fmt)
    return path


@pytest.mark.parametrize("name,mode,fmt", [
    ("a.jpg", "RGB", None), ("b.png", "RGBA", None), ("c.png", "P", None), ("d.jpg", "CMYK", "JPEG"),
    ("e.png", "I;16", None), ("f.bmp", "L", None), ("g.webp", "RGB", None), ("h.gif", "P", None), ("i.png", "LA", None),
])
def test_every_mode_becomes_rgb_at_size(tmp_path: Path, name: str, mode: str, fmt: str | None) -> None:
    arr = load_array(_img(tmp_path / name, mode, fmt=fmt), 16)
    assert arr.shape == (16, 16, 3) and arr.dtype == np.uint8
    if mode in ("RGBA", "LA"):
        assert arr.min() == 255  # transparent pixels composite onto white, not black
    if mode == "CMYK":
        assert arr[..., 0].mean() > 200 and arr[..., 1].mean() < 60  # cyan+magenta ink off, yellow on: red-ish


def _dataset(root: Path, counts: dict[str, int]) -> Path:
    for c, n in counts.items():
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            _img(root / c / f"{i}.png", color=(i * 10 % 255, 100, 50))
    return root


def test_scan_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        scan(tmp_path / "nope")
    (tmp_path / "flat").mkdir()
    _img(tmp_path / "flat" / "x.png")
    with pytest.raises(DataError, match="no class sub-folders.*move them"):
        scan(tmp_path / "flat")
    with pytest.raises(DataError, match="only one class"):
        scan(_dataset(tmp_path / "one", {"a": 3}))
    d = _dataset(tmp_path / "empty", {"a": 3, "b": 2})
    (d / "c").mkdir()
    with pytest.raises(DataError, match=r"empty/c' hold no images"):
        scan(d)
    (tmp_path / "none" / "a").mkdir(parents=True)
    (tmp_path / "none" / "b").mkdir()
    with pytest.raises(DataError, match="No images found"):
        scan(tmp_path / "none")
    with pytest.raises(DataError, match="is a file"):
        scan(tmp_path / "flat" / "x.png")


def test_validation_folder_must_match_classes(tmp_path: Path) -> None:
    _dataset(tmp_path / "val", {"a": 2, "c": 2})
    with pytest.raises(DataError, match=r"missing \['b'\], unexpected \['c'\]"):
        scan(tmp_path / "val", classes=["a", "b"])


def test_bad_files_are_skipped_and_counted_or_refused(tmp_path: Path) -> None:
    d = _dataset(tmp_path / "d", {"a": 3, "b": 3})
    (d / "a" / "text.jpg").write_text("not an image")
    good = (d / "b" / "0.png").read_bytes()
    jpg = d / "b" / "trunc.jpg"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(jpg, quality=95)
    jpg.write_bytes(jpg.read_bytes()[:300])
    ds = scan(d)
    assert len(ds.samples) == 8
    with pytest.raises(DataError, match="(?s)2 file\\(s\\).*cannot be decoded.*text.jpg"):
        decode_dataset(scan(d), 16, cache_dir=None, strict=True, progress=False)
    dec = decode_dataset(ds, 16, cache_dir=tmp_path / "cache", strict=False, progress=False)
    assert dec.pixels.shape == (6, 16, 16, 3)
    assert sorted(Path(p).name for p, _ in ds.skipped) == ["text.jpg", "trunc.jpg"]
    assert (d / "b" / "0.png").read_bytes() == good  # nothing is modified or lost
    again = scan(d)  # the cache remembers the skips
    dec2 = decode_dataset(again, 16, cache_dir=tmp_path / "cache", progress=False)
    assert len(again.skipped) == 2 and np.array_equal(dec.pixels, dec2.pixels)


def test_split_is_stratified_and_deterministic(tmp_path: Path) -> None:
    ds = scan(_dataset(tmp_path / "d", {"a": 10, "b": 5}))
    tr, va = split(ds, 0.2, seed=1)
    tr2, va2 = split(ds, 0.2, seed=1)
    assert np.array_equal(tr, tr2) and np.array_equal(va, va2)
    assert set(tr).isdisjoint(va) and len(tr) + len(va) == 15
    assert sorted(ds.labels[va].tolist()) == [0, 0, 1]
    assert not np.array_equal(split(ds, 0.2, seed=2)[1], va)


def test_content_hash_ignores_location_but_not_bytes(tmp_path: Path) -> None:
    a = _dataset(tmp_path / "x", {"a": 2, "b": 2})
    h1 = scan(a).content_hash()
    a.rename(tmp_path / "y")
    assert scan(tmp_path / "y").content_hash() == h1
    _img(tmp_path / "y" / "a" / "0.png", color=(0, 0, 0))
    assert scan(tmp_path / "y").content_hash() != h1
