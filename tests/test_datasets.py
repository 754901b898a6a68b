"""fetch_mnist and the IDX reader: the real MNIST in the shared data home, and tiny IDX files
written here (gzipped and raw, truncated, corrupt, missing with a fake downloader)."""

import gzip
import hashlib
import os
import stat
import struct
import urllib.error
import warnings
from pathlib import Path

import numpy as np
import pytest

from skdropout.datasets import (fetch_mnist, get_cache_home, get_data_home, parse_idx,
                                read_idx)
from skdropout.datasets import _download, _mnist

SHARED = Path(os.environ.get("SKDROPOUT_DATA", "")) / "mnist"
NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte"]
# Published class counts of MNIST (LeCun et al.), train and test.
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def idx_bytes(array: np.ndarray, type_byte: int = 0x08) -> bytes:
    """An IDX file built with struct, independently of the reader."""
    header = struct.pack(">BBBB", 0, 0, type_byte, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def tiny_parts(n_train=5, n_test=3, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_home(home: Path, contents: dict, gz=True, manifest=True) -> Path:
    """Write files (name -> bytes) into home/mnist, gzipped or raw, with a CONTENT_SHA256."""
    folder = home / "mnist"
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (name, content) in enumerate(contents.items()):
        use_gz = gz if isinstance(gz, bool) else bool(i % 2)
        path = folder / (name + ".gz" if use_gz else name)
        path.write_bytes(gzip.compress(content) if use_gz else content)
        lines.append(f"{name}.gz {hashlib.sha256(content).hexdigest()} {len(content)}")
    if manifest:
        (folder / "CONTENT_SHA256").write_text("\n".join(lines) + "\n")
    return folder


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """The cache folder, and no other cache to read from (a cache of the real MNIST in the
    user's ~/.cache would stand in for missing files)."""
    path = tmp_path / "cache"
    monkeypatch.setenv("SKDROPOUT_CACHE", str(path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return path


@pytest.fixture
def offline(monkeypatch):
    """Replace the network: record every URL asked for and fail like a closed network."""
    calls = []

    def refuse(url):
        calls.append(url)
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(_download, "_fetch_url", refuse)
    return calls


# --- the real MNIST in the shared data home ------------------------------------------------

needs_shared = pytest.mark.skipif(not (SHARED / "CONTENT_SHA256").is_file(),
                                  reason="SKDROPOUT_DATA does not point at the MNIST files")


@pytest.fixture(scope="module")
def real_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("mnist-cache")


@pytest.fixture(scope="module")
def mnist(real_cache):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SKDROPOUT_CACHE", str(real_cache))
        mp.setattr(_download, "_fetch_url", _no_network)
        return fetch_mnist()


def _no_network(url):
    raise AssertionError(f"the shared MNIST files are complete; nothing to download ({url})")


@needs_shared
def test_real_mnist_shapes_types_and_labels(mnist):
    assert mnist.X_train.shape == (60000, 784) and mnist.X_test.shape == (10000, 784)
    assert mnist.data.shape == (70000, 784) and mnist.target.shape == (70000,)
    assert mnist.X_train.dtype == np.float32 and mnist.y_train.dtype == np.int64
    assert np.shares_memory(mnist.X_train, mnist.data)
    assert mnist.data.min() == 0.0 and mnist.data.max() == 1.0
    # Pixels are bytes / 255: 255 * x is an integer.
    sample = mnist.X_test[:50] * 255
    np.testing.assert_allclose(sample, np.round(sample), atol=1e-4)
    assert np.bincount(mnist.y_train).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test).tolist() == TEST_COUNTS
    assert mnist.y_train[:5].tolist() == [5, 0, 4, 1, 9]
    assert mnist.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert mnist.n_train == 60000 and "MNIST" in mnist.DESCR


@needs_shared
def test_real_mnist_images_match_an_independent_decode(mnist):
    raw = gzip.decompress((SHARED / "t10k-images-idx3-ubyte.gz").read_bytes())
    n, rows, cols = struct.unpack(">III", raw[4:16])
    first = np.frombuffer(raw[16:16 + 3 * rows * cols], np.uint8).reshape(3, rows * cols)
    np.testing.assert_array_equal(mnist.X_test[:3], first.astype(np.float32) / 255)


@needs_shared
def test_builtin_hashes_agree_with_the_shared_manifest_and_content():
    listed = {}
    for line in (SHARED / "CONTENT_SHA256").read_text().split("\n"):
        if line.strip():
            name, sha, n_bytes = line.split()
            listed[name.removesuffix(".gz")] = (sha, int(n_bytes))
    builtin = {name: (sha, n_bytes) for name, sha, n_bytes in _mnist.FILES.values()}
    assert builtin == listed
    content = gzip.decompress((SHARED / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert (hashlib.sha256(content).hexdigest(), len(content)) == listed["t10k-labels-idx1-ubyte"]


def snapshot(folder: Path) -> dict:
    """Every path under ``folder`` with its size and modification time."""
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")}


@needs_shared
def test_real_mnist_cache_is_reused_without_reading_the_files(mnist, real_cache, monkeypatch):
    """The second load reads a cache (the one of the read-only shared data home when it has
    one, else the one the first load wrote) and writes nothing into the data home."""
    monkeypatch.setenv("SKDROPOUT_CACHE", str(real_cache))
    caches = [*real_cache.glob("mnist-*.npz"), *(SHARED.parent / "cache").glob("mnist-*.npz")]
    assert caches
    home_before = snapshot(SHARED.parent)

    def must_not_read(path):
        raise AssertionError(f"read {path} although the cache is there")

    monkeypatch.setattr(_mnist, "read_bytes", must_not_read)
    X_train, y_train = fetch_mnist(subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(subset="test", return_X_y=True)
    np.testing.assert_array_equal(X_train, mnist.X_train)
    np.testing.assert_array_equal(y_test, mnist.y_test)
    assert snapshot(SHARED.parent) == home_before  # the read-only data home is never written


@needs_shared
def test_real_mnist_download_path_with_a_fake_mirror(tmp_path, cache_dir, monkeypatch):
    """The download path against the published hashes: a fake mirror serves the real files;
    the first mirror serves a corrupt copy of one file, which must be rejected."""
    served = {name: (SHARED / f"{name}.gz").read_bytes() for name in NAMES}
    calls = []

    def mirror(url):
        calls.append(url)
        name = url.rsplit("/", 1)[1].removesuffix(".gz")
        data = served[name]
        if url.startswith(_mnist.MIRRORS[0]) and name == "t10k-labels-idx1-ubyte":
            return data[:-40]  # truncated on the first mirror
        return data

    monkeypatch.setattr(_download, "_fetch_url", mirror)
    X, y = fetch_mnist(data_home=tmp_path / "home", return_X_y=True, cache=False)
    assert X.shape == (70000, 784) and np.bincount(y[60000:]).tolist() == TEST_COUNTS
    assert sorted(p.name for p in (tmp_path / "home" / "mnist").iterdir()) == sorted(
        f"{name}.gz" for name in NAMES)
    assert sum(u.endswith("t10k-labels-idx1-ubyte.gz") for u in calls) == 2
    assert len(calls) == 5


# --- tiny IDX files written here -----------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False, "mixed"])
def test_tiny_files_load_gzipped_or_raw(tmp_path, cache_dir, offline, gz):
    parts = tiny_parts()
    write_home(tmp_path, {name: idx_bytes(a) for name, a in parts.items()}, gz=gz)
    bunch = fetch_mnist(data_home=tmp_path)
    expected = parts["train-images-idx3-ubyte"].reshape(5, 784).astype(np.float64) / 255
    np.testing.assert_allclose(bunch.X_train, expected, rtol=1e-6)
    np.testing.assert_array_equal(bunch.y_test, parts["t10k-labels-idx1-ubyte"])
    assert bunch.data.shape == (8, 784) and bunch.target.dtype == np.int64
    assert offline == []
    assert len(list(cache_dir.glob("mnist-*.npz"))) == 1


def test_cache_key_follows_the_content(tmp_path, cache_dir, offline):
    first, second = tmp_path / "a", tmp_path / "b"
    write_home(first, {n: idx_bytes(a) for n, a in tiny_parts(seed=1).items()})
    write_home(second, {n: idx_bytes(a) for n, a in tiny_parts(seed=2).items()})
    y1 = fetch_mnist(data_home=first).y_train
    y2 = fetch_mnist(data_home=second).y_train
    np.testing.assert_array_equal(y1, tiny_parts(seed=1)["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(y2, tiny_parts(seed=2)["train-labels-idx1-ubyte"])
    assert len(list(cache_dir.glob("mnist-*.npz"))) == 2


@pytest.mark.parametrize("damage", [lambda b: b[:100], lambda b: b""],
                         ids=["truncated", "empty"])
def test_corrupt_cache_is_rebuilt_with_a_warning(tmp_path, cache_dir, offline, damage):
    parts = tiny_parts()
    write_home(tmp_path, {name: idx_bytes(a) for name, a in parts.items()})
    fetch_mnist(data_home=tmp_path)
    (cached,) = cache_dir.glob("mnist-*.npz")
    cached.write_bytes(damage(cached.read_bytes()))
    with pytest.warns(UserWarning, match="MNIST cache"):
        bunch = fetch_mnist(data_home=tmp_path)
    np.testing.assert_array_equal(bunch.y_train, parts["train-labels-idx1-ubyte"])
    np.load(cached)  # rebuilt and readable again
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fetch_mnist(data_home=tmp_path)


def test_return_X_y_and_subsets_follow_scikit_learn(tmp_path, cache_dir, offline):
    parts = tiny_parts()
    write_home(tmp_path, {name: idx_bytes(a) for name, a in parts.items()})
    train_images = parts["train-images-idx3-ubyte"].reshape(5, 784) / np.float32(255)
    test_images = parts["t10k-images-idx3-ubyte"].reshape(3, 784) / np.float32(255)
    X, y = fetch_mnist(data_home=tmp_path, return_X_y=True)
    np.testing.assert_array_equal(X, np.vstack([train_images, test_images]))
    np.testing.assert_array_equal(y, np.concatenate([parts["train-labels-idx1-ubyte"],
                                                     parts["t10k-labels-idx1-ubyte"]]))
    X_train, y_train = fetch_mnist(data_home=tmp_path, subset="train", return_X_y=True)
    X_test, y_test = fetch_mnist(data_home=tmp_path, subset="test", return_X_y=True)
    np.testing.assert_array_equal(X_train, train_images)
    np.testing.assert_array_equal(X_test, test_images)
    assert y_train.dtype == y_test.dtype == np.int64 and X_test.dtype == np.float32
    np.testing.assert_array_equal(y_test, parts["t10k-labels-idx1-ubyte"])
    test = fetch_mnist(data_home=tmp_path, subset="test")
    assert test.subset == "test" and test.data.shape == (3, 784) and "X_train" not in test
    whole = fetch_mnist(data_home=tmp_path)
    assert whole.n_train == 5 and np.shares_memory(whole.X_test, whole.data)
    np.testing.assert_array_equal(whole.y_train, y_train)
    with pytest.raises(ValueError, match="subset must be one of 'train', 'test', 'all'"):
        fetch_mnist(data_home=tmp_path, subset="validation")


def test_valid_cache_in_a_read_only_home_is_read_and_nothing_written(tmp_path, cache_dir,
                                                                    offline, monkeypatch):
    parts = tiny_parts()
    home = tmp_path / "home"
    write_home(home, {name: idx_bytes(a) for name, a in parts.items()})
    monkeypatch.delenv("SKDROPOUT_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    fetch_mnist(data_home=home)  # writes home/cache, the first writable cache folder
    assert len(list((home / "cache").glob("mnist-*.npz"))) == 1
    monkeypatch.setenv("SKDROPOUT_CACHE", str(cache_dir))
    before = snapshot(tmp_path)
    read_only = [home / "cache", home / "mnist", home]
    for folder in read_only:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)

    def must_not_read(path):
        raise AssertionError(f"read {path} although a valid cache is there")

    monkeypatch.setattr(_mnist, "read_bytes", must_not_read)
    try:
        X, y = fetch_mnist(data_home=home, subset="train", return_X_y=True)
    finally:
        for folder in read_only:
            folder.chmod(stat.S_IRWXU)
    np.testing.assert_array_equal(y, parts["train-labels-idx1-ubyte"])
    assert snapshot(tmp_path) == before  # read, and nothing written anywhere


def test_without_manifest_tiny_files_fail_the_builtin_hashes(tmp_path, cache_dir, offline):
    write_home(tmp_path, {n: idx_bytes(a) for n, a in tiny_parts().items()}, manifest=False)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz.*47040016 expected"):
        fetch_mnist(data_home=tmp_path)
    assert not list(cache_dir.glob("*.npz"))


def test_sha_mismatch_is_an_error(tmp_path, cache_dir, offline):
    contents = {n: idx_bytes(a) for n, a in tiny_parts().items()}
    folder = write_home(tmp_path, contents, gz=False)
    flipped = bytearray(contents["t10k-labels-idx1-ubyte"])
    flipped[-1] ^= 1
    (folder / "t10k-labels-idx1-ubyte").write_bytes(bytes(flipped))
    with pytest.raises(ValueError, match=r"t10k-labels-idx1-ubyte: SHA-256 .* expected"):
        fetch_mnist(data_home=tmp_path)
    assert not list(cache_dir.glob("*.npz"))


def test_truncated_gzip_is_an_error(tmp_path, cache_dir, offline):
    folder = write_home(tmp_path, {n: idx_bytes(a) for n, a in tiny_parts().items()})
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: corrupt or truncated gzip"):
        fetch_mnist(data_home=tmp_path)


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:-7], "IDX file truncated"),
    (lambda b: b + b"\x00", "trailing bytes"),
    (lambda b: b"\x08\x03" + b[2:], "not an IDX file"),
    (lambda b: b[:10], "truncated IDX header"),
])
def test_idx_damage_is_an_error_even_when_the_manifest_agrees(tmp_path, cache_dir, offline,
                                                              damage, message):
    contents = {n: idx_bytes(a) for n, a in tiny_parts().items()}
    contents["train-images-idx3-ubyte"] = damage(contents["train-images-idx3-ubyte"])
    write_home(tmp_path, contents)
    with pytest.raises(ValueError, match=message):
        fetch_mnist(data_home=tmp_path)
    assert not list(cache_dir.glob("*.npz"))


@pytest.mark.parametrize("part, array, message", [
    ("train-images-idx3-ubyte", np.zeros((5, 27, 28), np.uint8), r"shape \(5, 27, 28\)"),
    ("train-images-idx3-ubyte", np.zeros((5, 784), np.uint8), r"shape \(5, 784\)"),
    ("train-labels-idx1-ubyte", np.zeros(4, np.uint8), r"labels .* \(5,\) expected"),
    ("t10k-labels-idx1-ubyte", np.array([1, 10, 2], np.uint8), "digits 0-9"),
    ("t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.int32), "int32"),
])
def test_wrong_dimensions_or_labels_are_errors(tmp_path, cache_dir, offline, part, array,
                                               message):
    parts = tiny_parts()
    parts[part] = array
    type_byte = 0x0C if array.dtype == np.int32 else 0x08
    write_home(tmp_path, {n: idx_bytes(a, type_byte if n == part else 0x08)
                          for n, a in parts.items()})
    with pytest.raises(ValueError, match=message):
        fetch_mnist(data_home=tmp_path)


def test_malformed_manifest_is_an_error(tmp_path, cache_dir, offline):
    folder = write_home(tmp_path, {n: idx_bytes(a) for n, a in tiny_parts().items()})
    (folder / "CONTENT_SHA256").write_text("train-images-idx3-ubyte.gz nothex 12\n")
    with pytest.raises(ValueError, match=r"CONTENT_SHA256, line 1"):
        fetch_mnist(data_home=tmp_path)
    (folder / "CONTENT_SHA256").write_text("")
    with pytest.raises(ValueError, match="lists no content hash for train-images"):
        fetch_mnist(data_home=tmp_path)


# --- missing files -------------------------------------------------------------------------

def test_missing_offline_names_the_folder_and_tries_both_mirrors(tmp_path, cache_dir, offline):
    with pytest.raises(FileNotFoundError) as info:
        fetch_mnist(data_home=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "mnist") in message
    assert "network is unreachable" in message and "train-images-idx3-ubyte.gz" in message
    assert len(offline) == 8 and {u.rsplit("/", 1)[0] + "/" for u in offline} == set(
        _mnist.MIRRORS)
    assert not (tmp_path / "mnist").exists()  # nothing half-written


def test_missing_without_download_does_not_touch_the_network(tmp_path, cache_dir, offline):
    folder = write_home(tmp_path, {n: idx_bytes(a) for n, a in tiny_parts().items()},
                        manifest=False)
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"t10k-images-idx3-ubyte\.gz missing from "
                       + str(folder).replace("\\", "\\\\")):
        fetch_mnist(data_home=tmp_path, download_if_missing=False)
    assert offline == []


def test_missing_in_a_read_only_home_says_so(tmp_path, cache_dir, offline):
    home = tmp_path / "ro"
    home.mkdir()
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        with pytest.raises(FileNotFoundError, match="not writable"):
            fetch_mnist(data_home=home)
    finally:
        home.chmod(stat.S_IRWXU)
    assert offline == []


def test_download_keeps_only_verified_copies(tmp_path, cache_dir, monkeypatch):
    """Tiny files served by fake mirrors, checked against (patched) built-in hashes: the first
    mirror serves corrupt copies, so every file comes from the second one."""
    contents = {n: idx_bytes(a) for n, a in tiny_parts().items()}
    files = {part: (name, hashlib.sha256(contents[name]).hexdigest(), len(contents[name]))
             for part, (name, _, _) in _mnist.FILES.items()}
    monkeypatch.setattr(_mnist, "FILES", files)

    def mirror(url):
        name = url.rsplit("/", 1)[1].removesuffix(".gz")
        if url.startswith(_mnist.MIRRORS[0]):
            return gzip.compress(contents[name][:-1] + b"\x01")
        return gzip.compress(contents[name])

    monkeypatch.setattr(_download, "_fetch_url", mirror)
    bunch = fetch_mnist(data_home=tmp_path)
    np.testing.assert_array_equal(bunch.y_train, tiny_parts()["train-labels-idx1-ubyte"])
    written = sorted(p.name for p in (tmp_path / "mnist").iterdir())
    assert written == sorted(f"{name}.gz" for name in NAMES)


# --- settings and the reader ---------------------------------------------------------------

def test_data_home_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("SKDROPOUT_DATA", str(tmp_path / "env"))
    assert get_data_home(tmp_path / "arg") == tmp_path / "arg"
    assert get_data_home() == tmp_path / "env"
    monkeypatch.delenv("SKDROPOUT_DATA")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert get_data_home() == tmp_path / "skdropout_data"


def test_cache_home_order(tmp_path, monkeypatch):
    monkeypatch.delenv("SKDROPOUT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    home = tmp_path / "home"
    home.mkdir()
    assert get_cache_home(home) == home / "cache"
    home.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert get_cache_home(home) == tmp_path / "xdg" / "skdropout"
    finally:
        home.chmod(stat.S_IRWXU)
    monkeypatch.setenv("SKDROPOUT_CACHE", str(tmp_path / "explicit"))
    assert get_cache_home(home) == tmp_path / "explicit"


@pytest.mark.parametrize("dtype, type_byte", [(np.uint8, 0x08), (np.int8, 0x09),
                                              (np.int16, 0x0B), (np.int32, 0x0C),
                                              (np.float32, 0x0D), (np.float64, 0x0E)])
def test_read_idx_all_types(tmp_path, dtype, type_byte):
    array = (np.arange(24).reshape(2, 3, 4) - 5).astype(dtype)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(array, type_byte)))
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_parse_idx_rejects_unknown_type():
    with pytest.raises(ValueError, match="bad magic"):
        parse_idx(b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")


def test_read_only_everywhere_loads_without_a_cache(tmp_path, monkeypatch, offline):
    parts = tiny_parts()
    home = tmp_path / "home"
    write_home(home, {name: idx_bytes(a) for name, a in parts.items()})
    read_only = [home / "mnist", home, tmp_path / "cache", tmp_path / "xdg"]
    for folder in read_only[2:]:
        folder.mkdir()
    monkeypatch.setenv("SKDROPOUT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    before = sorted(tmp_path.rglob("*"))
    for folder in read_only:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert get_cache_home(home) is None
        bunch = fetch_mnist(data_home=home)
    finally:
        for folder in read_only:
            folder.chmod(stat.S_IRWXU)
    np.testing.assert_array_equal(bunch.y_train, parts["train-labels-idx1-ubyte"])
    assert sorted(tmp_path.rglob("*")) == before  # nothing written anywhere
