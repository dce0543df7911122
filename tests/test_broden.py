"""The Broden reader, on a tiny Broden folder made here in Broden's layout: index and label
tables, label PNGs coding numbers as red + 256 × green, labels of whole images, a category with
two label maps per image."""
import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from lthkit import broden, data, dissect

# number, name, category; "sky" is numbered above 255 so that its PNGs use the green channel
LABELS = [(1, "red", "color"), (300, "sky", "object"), (3, "street", "scene"),
          (4, "wheel", "part"), (5, "door", "part")]


def _table(path: Path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _png(path: Path, numbers: np.ndarray):
    rgb = np.stack([numbers % 256, numbers // 256, np.zeros_like(numbers)], -1)
    Image.fromarray(rgb.astype(np.uint8)).save(path)


def make_fake_broden(root: Path, images: int = 6, size: int = 16, label_size: int = 8) -> Path:
    """A Broden folder under ``root`` (``root/broden1_224``): each image is grey with a red
    top-left quarter (the "red" colour label) under a "sky" top half; even images have two
    part maps (wheel left, door right) and the scene "street"; odd ones have neither."""
    base = root / broden.FOLDER
    (base / "images" / "fake").mkdir(parents=True)
    _table(base / "category.csv", ["name", "first", "last", "count", "frequency"],
           [["color", 1, 1, 1, images], ["object", 2, 2, 1, images],
            ["part", 4, 5, 2, images // 2], ["scene", 3, 3, 1, images // 2]])
    _table(base / "label.csv", ["number", "name", "category", "frequency", "coverage", "syns"],
           [[n, name, f"{cat}(1)", 1, 0.1, ""] for n, name, cat in LABELS])
    for category in ("color", "object", "part", "scene"):
        numbers = [(n, name) for n, name, cat in LABELS if cat == category]
        _table(base / f"c_{category}.csv", ["code", "number", "name", "frequency", "coverage"],
               [[code, n, name, 1, 0.1] for code, (n, name) in enumerate(numbers, 1)])
    rows, half = [], label_size // 2
    for i in range(images):
        picture = np.full((size, size, 3), 128, dtype=np.uint8)
        picture[:size // 2, :size // 2] = (220, 20, 20)
        Image.fromarray(picture).save(base / "images" / "fake" / f"{i}.png")
        colour = np.zeros((label_size, label_size), dtype=np.int64)
        colour[:half, :half] = 1
        sky = np.zeros_like(colour)
        sky[:half] = 300
        _png(base / "images" / "fake" / f"{i}_color.png", colour)
        _png(base / "images" / "fake" / f"{i}_object.png", sky)
        parts, scene = "", ""
        if i % 2 == 0:
            wheel, door = np.zeros_like(colour), np.zeros_like(colour)
            wheel[:, :half], door[:, half:] = 4, 5
            _png(base / "images" / "fake" / f"{i}_part_1.png", wheel)
            _png(base / "images" / "fake" / f"{i}_part_2.png", door)
            parts, scene = f"fake/{i}_part_1.png;fake/{i}_part_2.png", "3"
        rows.append([f"fake/{i}.png", "train", size, size, label_size, label_size,
                     f"fake/{i}_color.png", f"fake/{i}_object.png", parts, scene])
    _table(base / "index.csv", ["image", "split", "ih", "iw", "sh", "sw", "color", "object",
                                "part", "scene"], rows)
    return base


@pytest.fixture
def fake(tmp_path):
    return make_fake_broden(tmp_path)


def test_the_probe_reads_names_codes_and_whole_image_labels(fake):
    probe = broden.Probe(fake)
    assert len(probe) == 6
    assert probe.categories == {"color": ("", "red"), "object": ("", "sky"),
                                "part": ("", "wheel", "door"), "scene": ("", "street")}
    images, labels = probe.batch(0, 2)
    assert images.shape == (2, 3, 16, 16)
    expected = (torch.tensor([220, 20, 20]) / 255 - torch.tensor(broden.IMAGENET_MEAN)) \
        / torch.tensor(broden.IMAGENET_STD)
    assert torch.allclose(images[0, :, 0, 0], expected)
    assert labels["object"].shape == (2, 1, 8, 8)
    assert labels["object"][0, 0, :4].eq(1).all() and labels["object"][0, 0, 4:].eq(0).all()
    assert labels["color"][1, 0, :4, :4].eq(1).all()
    # two part maps for image 0, none for image 1; the scene covers image 0 and not image 1
    assert labels["part"].shape == (2, 2, 8, 8)
    assert labels["part"][0, 0, :, :4].eq(1).all() and labels["part"][0, 1, :, 4:].eq(2).all()
    assert labels["part"][1].eq(0).all()
    assert labels["scene"][0].eq(1).all() and labels["scene"][1].eq(0).all()


def test_the_probe_resizes_limits_and_chooses_categories(fake):
    probe = broden.Probe(fake, categories=["color", "scene"], size=32, limit=3)
    assert len(probe) == 3 and list(probe.categories) == ["color", "scene"]
    images, labels = probe.batch(0, 3)
    assert images.shape == (3, 3, 32, 32) and set(labels) == {"color", "scene"}
    assert probe.picture([2]).dtype == torch.uint8 and probe.picture([2]).shape == (1, 3, 32, 32)
    with pytest.raises(ValueError, match="no categories"):
        broden.Probe(fake, categories=["smell"])


def test_a_missing_broden_is_named_with_where_to_put_it(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match="nothing .no index.csv.*broden1_224"):
        broden.Probe(tmp_path / "nothing")
    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="Unpack Broden"):
        data.require("broden")
    make_fake_broden(tmp_path)
    data.require("broden")                    # found under $LTHKIT_DATA
    assert broden.folder() == (tmp_path / broden.FOLDER).resolve()


def test_dissection_reads_broden(fake):
    class Red(torch.nn.Module):
        """One unit: redness, at half the image's resolution, like a conv stage's output."""

        def __init__(self):
            super().__init__()
            self.units = torch.nn.AvgPool2d(2)

        def forward(self, x):
            return self.units(torch.relu(x[:, :1] - x[:, 1:].sum(1, keepdim=True)))

    # Red covers a quarter of every image: with the top 30% on, the unit's region is all of it.
    result = dissect.dissect(Red(), broden.Probe(fake), ["units"], batch_size=4, quantile=0.3)
    (unit,) = result.units
    assert (unit["category"], unit["concept"], unit["interpretable"]) == ("color", "red", True)
    assert unit["iou"] > 0.9


def test_preflight_names_broden_when_the_paper_preset_lacks_it(tmp_path, monkeypatch):
    from lthkit import hparams, preflight

    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    found = " ".join(preflight.problems(hparams.resolve("dissection", "paper")))
    assert "probe='broden'" in found and "Unpack Broden" in found
    assert "dataset='cifar10'" in found and "device='cuda'" in found
    make_fake_broden(tmp_path)
    found = " ".join(preflight.problems(hparams.resolve("dissection", "paper")))
    assert "probe=" not in found
    with pytest.raises(hparams.ParameterError, match="resnet_50.*only on a GPU"):
        hparams.resolve("dissection", "paper", device="cpu")


def test_the_paper_preset_runs_on_a_fake_broden(tmp_path, monkeypatch):
    """The paper's path through the chapter (Broden probe, global pruning, last stage only),
    with a small network on the CPU and scenes to train on: lthkit reads no fake CIFAR-10."""
    import json

    from lthkit import book

    make_fake_broden(tmp_path)
    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path))
    notebook = Path(__file__).resolve().parents[1] / "notebooks" / "05_dissection.ipynb"
    params = dict(preset="paper", device="cpu", model="conv4_4", dataset="scenes", seeds=2,
                  rounds=2, control_every=1, train_steps="20it", eval_every="10it",
                  rewind_step="5it", batch_size=32, scenes_train=300, scenes_test=100,
                  val_size=100, probe_images=6)
    book.execute(notebook, tmp_path / "out", params, store=tmp_path / "store", progress=False)
    doc = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert doc["params"]["probe"] == "broden" and doc["params"]["layers"] == "last"
    assert doc["metrics"]["units_dissected"] == 8          # conv4_4's last stage
    assert len(doc["claims"]) == 3
