"""Network dissection: IoU sums on maps built by hand, the upsampling shortcut against
upsampling everything, and hand-built networks whose units detect what they were built to detect
(and a unit of noise that detects nothing)."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lthkit import dissect, models, probes, scenes


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    yield


# --- IoU sums ----------------------------------------------------------------------------

def _brute_iou(on, labels, concept_count):
    """IoU by the definition, image by image: on (N, U, H, W) bool, labels (N, H, W)."""
    out = torch.zeros(on.shape[1], concept_count, dtype=torch.float64)
    for u in range(on.shape[1]):
        for c in range(1, concept_count):
            both = union = 0
            for n in range(len(on)):
                if not (labels[n] > 0).any():
                    continue  # the category is not labelled on this image
                m, lab = on[n, u], labels[n] == c
                both += int((m & lab).sum())
                union += int((m | lab).sum())
            out[u, c] = both / union if union else 0.0
    return out


def test_iou_sums_match_the_definition_on_constructed_maps():
    # Two categories; image 2 has no label of the first, so its pixels never enter that
    # category's unions (Bau et al.), while the second category counts it.
    on = torch.zeros(3, 2, 4, 4, dtype=torch.bool)
    on[0, 0, :2, :2] = True          # unit 0: the top-left square of image 0 ...
    on[2, 0, :, :] = True            # ... and all of image 2
    on[1, 1, 2:, :] = True           # unit 1: the bottom half of image 1
    first = torch.zeros(3, 4, 4, dtype=torch.long)
    first[0, :2, :2] = 1             # concept 1 is exactly unit 0's square in image 0
    first[0, 2:, 2:] = 2
    first[1, 2:, :] = 2              # concept 2 covers unit 1's half of image 1
    second = torch.ones(3, 4, 4, dtype=torch.long)    # one concept everywhere
    tally = dissect.Tally(2, {"a": 3, "b": 2})
    tally.update(on.nonzero(as_tuple=True), {"a": first[:, None], "b": second[:, None]})
    iou = tally.iou()
    assert iou.shape == (2, 5)
    expected_a = _brute_iou(on, first, 3)
    expected_b = _brute_iou(on, second, 2)
    assert torch.allclose(iou[:, :3], expected_a)
    assert torch.allclose(iou[:, 3:], expected_b)
    # by hand: unit 0 and concept a/1 overlap exactly on image 0 (image 2 is unlabelled in a)
    assert iou[0, 1] == 1.0
    assert iou[1, 2] == pytest.approx(8 / (8 + 12 - 8))
    assert iou[0, 4] == pytest.approx(20 / 48)  # 4 + 16 pixels on, of 48 labelled


def test_iou_sums_add_up_over_batches():
    g = torch.Generator().manual_seed(3)
    on = torch.rand(10, 3, 6, 6, generator=g) < 0.2
    labels = torch.randint(0, 4, (10, 1, 6, 6), generator=g)
    whole, parts = dissect.Tally(3, {"c": 4}), dissect.Tally(3, {"c": 4})
    whole.update(on.nonzero(as_tuple=True), {"c": labels})
    for s in (slice(0, 4), slice(4, 10)):
        parts.update(on[s].nonzero(as_tuple=True), {"c": labels[s]})
    assert torch.equal(whole.both, parts.both) and torch.equal(whole.active, parts.active)
    assert torch.allclose(whole.iou(), parts.iou())


def test_active_pixels_equal_upsampling_every_map():
    g = torch.Generator().manual_seed(4)
    a = torch.randn(5, 7, 8, 8, generator=g).relu()
    thresholds = torch.rand(7, generator=g) * 2
    found = torch.stack(dissect.active(a, thresholds, (32, 32)), 1)
    dense = F.interpolate(a, size=(32, 32), mode="bilinear", align_corners=False)
    expected = (dense > thresholds[None, :, None, None]).nonzero()
    key = lambda t: sorted(map(tuple, t.tolist()))  # noqa: E731
    assert len(expected) > 0 and key(found) == key(expected)


# --- hand-built networks -----------------------------------------------------------------

class RedAndNoise(nn.Module):
    """Unit 0 is on where a pixel is red (R − G − B above 0.45); unit 1 is noise that ignores
    the image. ``pool`` halves the maps' resolution, so that they must be upsampled."""

    def __init__(self, pool=False):
        super().__init__()
        self.red = nn.Conv2d(3, 1, 1)
        with torch.no_grad():
            self.red.weight.copy_(torch.tensor([1.0, -1.0, -1.0]).view(1, 3, 1, 1))
            self.red.bias.fill_(-0.45)  # red gives 0.65, orange 0.35
        self.pool = nn.AvgPool2d(2) if pool else nn.Identity()
        self.units = nn.Identity()
        self.noise = torch.Generator().manual_seed(0)

    def forward(self, x):
        red = F.relu(self.red(x))
        noise = torch.rand(red.shape, generator=self.noise)
        return self.units(self.pool(torch.cat([red, noise], 1)))


def _painted_probe(n=300, size=32, seed=0):
    """Images of flat non-red colours with a small red square in every other image (red is
    ~0.3% of pixels, under the 0.5% that Bau's threshold keeps on, so the red unit's region is
    the red concept itself); a second category splits each image into left and right halves."""
    g = torch.Generator().manual_seed(seed)
    colours = torch.tensor(list(scenes.COLOURS.values()))
    red = list(scenes.COLOURS).index("red")
    others = [i for i, name in enumerate(scenes.COLOURS) if name not in ("red",)]
    label = torch.tensor(others)[torch.randint(0, len(others), (n, 1, 1), generator=g)]
    label = label.expand(n, size, size).clone()
    for i in range(0, n, 2):
        side = int(torch.randint(2, 4, (1,), generator=g))
        y, x = torch.randint(0, size - side, (2,), generator=g).tolist()
        label[i, y:y + side, x:x + side] = red
    images = colours[label].permute(0, 3, 1, 2)
    images = (images + 0.01 * torch.randn(images.shape, generator=g)).clamp(0, 1)
    halves = torch.ones(n, size, size, dtype=torch.long)
    halves[:, :, size // 2:] = 2
    return probes.TensorProbe(images, {"colour": label + 1, "side": halves},
                               {"colour": scenes.CONCEPTS["colour"],
                                "side": ("", "left", "right")})


@pytest.mark.parametrize("pool", [False, True], ids=["same-size", "upsampled"])
def test_a_red_unit_is_dissected_as_red_and_noise_as_nothing(pool):
    probe = _painted_probe()
    result = dissect.dissect(RedAndNoise(pool), probe, ["units"], batch_size=64)
    red, noise = result.units
    assert (red["category"], red["concept"]) == ("colour", "red")
    assert red["interpretable"]
    assert red["iou"] > (0.5 if pool else 0.95)
    assert not noise["interpretable"] and noise["iou"] < 0.02
    assert dissect.counts(result, by=None) == [{"all": "all", "units": 2, "interpretable": 1,
                                                "concepts": 1}]


def test_the_same_result_whether_activations_are_kept_or_computed_again():
    probe = _painted_probe(n=120)
    kept = dissect.dissect(RedAndNoise(), probe, ["red"], batch_size=50)
    again = dissect.dissect(RedAndNoise(), probe, ["red"], batch_size=50, keep_bytes=0)
    assert kept.units == again.units and torch.equal(kept.iou["red"], again.iou["red"])


def test_a_red_unit_finds_red_among_every_concept_of_the_scenes():
    images, _, maps = scenes.generate(300, seed=5, split="test")
    probe = probes.TensorProbe(images.float() / 255,
                                {c: maps[:, i] for i, c in enumerate(scenes.CATEGORIES)},
                                scenes.CONCEPTS)
    result = dissect.dissect(RedAndNoise(), probe, ["units"])
    red, noise = result.units
    assert (red["category"], red["concept"], red["interpretable"]) == ("colour", "red", True)
    assert not noise["interpretable"]
    # red is the best of all 31 concepts by a wide margin
    ranked = result.iou["units"][0].sort(descending=True).values
    assert ranked[0] > 3 * ranked[1]


def test_top_images_are_those_where_the_unit_peaks():
    probe = _painted_probe(n=40)
    result = dissect.dissect(RedAndNoise(), probe, ["units"], top=5, batch_size=16)
    top = result.top["units"][0]
    assert len(top) == 5 and all(int(i) % 2 == 0 for i in top)  # images with a red square


def test_counts_by_category_and_layer():
    result = dissect.Dissection(
        units=[dict(layer="a", unit=0, category="colour", concept="red", iou=0.3,
                    interpretable=True),
               dict(layer="a", unit=1, category="colour", concept="red", iou=0.2,
                    interpretable=True),
               dict(layer="b", unit=0, category="shape", concept="ring", iou=0.05,
                    interpretable=True),
               dict(layer="b", unit=1, category="colour", concept="blue", iou=0.01,
                    interpretable=False)],
        concepts=[("colour", "red"), ("colour", "blue"), ("shape", "ring"), ("part", "rim")],
        iou={}, thresholds={}, top={}, iou_threshold=0.04)
    assert dissect.counts(result) == [
        {"layer": "a", "units": 2, "interpretable": 2, "concepts": 1},
        {"layer": "b", "units": 2, "interpretable": 1, "concepts": 1}]
    assert dissect.counts(result, by="category") == [
        {"category": "colour", "interpretable": 2, "concepts": 1},
        {"category": "shape", "interpretable": 1, "concepts": 1},
        {"category": "part", "interpretable": 0, "concepts": 0}]
    assert dissect.counts(result, by=None) == [
        {"all": "all", "units": 4, "interpretable": 3, "concepts": 2}]


@pytest.mark.parametrize("name, expected", [
    ("conv4_8", ["features.1", "features.3", "features.6", "features.8"]),
    ("cifar_resnet_20_8", ["blocks.2", "blocks.5", "blocks.8"]),
    ("cifar_vgg_11_8", ["features.2", "features.6", "features.10", "features.13",
                        "features.17", "features.20", "features.24", "features.27"]),
])
def test_default_layers_are_the_outputs_of_each_conv_stage(name, expected):
    model = models.build(name, 0)
    assert dissect.default_layers(model) == expected
    maps = dissect.activations(model, expected, torch.zeros(2, 3, 32, 32))
    assert all(m.dim() == 4 and m.shape[0] == 2 for m in maps.values())


def test_bad_layers_and_probes_are_refused():
    model = models.build("conv2_4", 0)
    with pytest.raises(ValueError, match="no layers"):
        dissect.activations(model, ["nowhere"], torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="not feature maps"):
        dissect.activations(model, ["fc.0"], torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="names no concepts"):
        dissect.dissect(model, probes.TensorProbe(torch.zeros(2, 3, 32, 32),
                                                  {"a": torch.zeros(2, 32, 32)}, {"a": ("",)}))
    with pytest.raises(ValueError, match="no default layers"):
        dissect.default_layers(nn.Linear(2, 2))


def test_many_networks_are_dissected_once_each_through_the_store(tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    probe = _painted_probe(n=40)
    ds = type("Shape", (), {"input_shape": (3, 32, 32), "num_classes": 10})()
    states = [models.build("conv2_4", seed).state_dict() for seed in (0, 1)]
    first = dissect.dissect_states("conv2_4", ds, states, probe, top=3)
    alone = dissect.dissect(models.build("conv2_4", 1), probe, top=3)
    assert first[1].units == alone.units and torch.equal(first[1].top["features.1"],
                                                          alone.top["features.1"])
    assert first[0].units != first[1].units
    monkeypatch.setattr(dissect, "dissect", lambda *a, **k: pytest.fail("not from the store"))
    again = dissect.dissect_states("conv2_4", ds, states, probe, top=3)
    assert [r.units for r in again] == [r.units for r in first]


def test_unit_masks_outline_where_a_unit_is_on():
    probe = _painted_probe(n=8)
    images, labels = probe.batch(0, 8)
    on = dissect.unit_masks(RedAndNoise(), "units", 0, images, 0.01, (32, 32))
    red = labels["colour"][:, 0] == scenes.CONCEPTS["colour"].index("red")
    assert on.shape == (8, 32, 32) and torch.equal(on, red)
