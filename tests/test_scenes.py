"""lthkit.scenes: the generated image task, its concept masks, and data.load("scenes")."""
import math

import numpy as np
import pytest
import torch

from lthkit import data, scenes

CLEAN = scenes.Knobs(noise=0.0, jitter=0.0)  # palette colours land on the pixels unchanged
COLOUR, SHAPE, TEXTURE, BACKGROUND, PART = (scenes.CATEGORIES.index(c) for c in
                                            ("colour", "shape", "texture", "background", "part"))


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    yield


@pytest.fixture(scope="module")
def clean():
    return scenes.generate(300, seed=3, knobs=CLEAN)


def _palette_bytes():
    return (scenes.PALETTE.clamp(0, 1) * 255).round().to(torch.uint8)


def _colour_errors(images, maps):
    """Pixels where the colour map and the painted colour disagree, counted both ways: a
    labelled pixel not painted its palette colour, and an object pixel painted a palette colour
    but labelled otherwise."""
    palette = _palette_bytes()
    colour, covered = maps[:, COLOUR].long(), maps[:, SHAPE] > 0
    painted = images.permute(0, 2, 3, 1)  # (N, S, S, 3)
    wrong = 0
    for c in range(len(palette)):
        is_c = (painted == palette[c]).all(-1)
        wrong += int(((colour == c + 1) & ~is_c).sum()) + int((covered & is_c & (colour != c + 1)).sum())
    return wrong


# --- determinism and balance ----------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_scenes():
    a = scenes.generate(120, seed=0)
    b = scenes.generate(120, seed=0)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    other = scenes.generate(120, seed=1)
    assert not torch.equal(other[0], a[0]) and not torch.equal(other[2], a[2])
    test = scenes.generate(120, seed=0, split="test")
    assert not torch.equal(test[0], a[0])


def test_shapes_types_and_sizes():
    images, labels, maps = scenes.generate(25, seed=0, size=48)
    assert images.shape == (25, 3, 48, 48) and images.dtype == torch.uint8
    assert labels.shape == (25,) and labels.dtype == torch.int64
    assert maps.shape == (25, len(scenes.CATEGORIES), 48, 48) and maps.dtype == torch.uint8
    assert scenes.generate(25, seed=0, masks=False)[2] is None


def test_every_chunk_renders_its_own_images(monkeypatch):
    monkeypatch.setattr(scenes, "_CHUNK", 40)
    images, _, maps = scenes.generate(100, seed=0)  # chunks of 40, 40 and 20
    assert (maps[:, BACKGROUND] > 0).flatten(1).any(1).all()  # no image left blank
    assert images.flatten(1).float().std(1).min() > 5
    assert not torch.equal(images[:20], images[40:60]) and not torch.equal(maps[:20], maps[80:])


@pytest.mark.parametrize("n", [500, 73])
def test_classes_are_balanced(n):
    labels = scenes.generate(n, seed=2, masks=False)[1]
    counts = torch.bincount(labels, minlength=10)
    assert counts.sum() == n and counts.max() - counts.min() <= 1
    assert len(labels[:50].unique()) >= 8  # shuffled, not sorted by class


# --- masks ----------------------------------------------------------------------------------

def test_colour_masks_cover_exactly_the_pixels_painted_that_colour(clean):
    images, _, maps = clean
    assert _colour_errors(images, maps) == 0
    # Every colour is used, so the check above compared something for each.
    assert set(maps[:, COLOUR].unique().tolist()) == set(range(len(scenes.COLOURS) + 1))
    # The check catches a mask one pixel off in either direction.
    for shift in ((1, 2), (-1, 2), (1, 3), (-1, 3)):
        assert _colour_errors(images, maps.roll(*shift)) > 100


def test_categories_agree_on_which_pixels_are_objects(clean):
    _, _, maps = clean
    objects = maps[:, SHAPE] > 0
    for category in (COLOUR, TEXTURE, PART):
        assert torch.equal(maps[:, category] > 0, objects)
    assert torch.equal(maps[:, BACKGROUND] == 0, objects)
    for category in scenes.CATEGORIES:
        assert int(maps[:, scenes.CATEGORIES.index(category)].max()) < len(
            scenes.CONCEPTS[category])
    # Two regions at most, each of a known kind.
    kinds = [set(m[m > 0].unique().tolist()) for m in maps[:, BACKGROUND]]
    assert all(1 <= len(k) <= 2 for k in kinds)
    assert set().union(*kinds) == set(range(1, len(scenes.CONCEPTS["background"])))


def test_every_image_shows_its_class_shape(clean):
    _, labels, maps = clean
    shown = (maps[:, SHAPE].long() == labels[:, None, None] + 1).flatten(1).sum(1)
    assert shown.min() >= 20


def test_noise_and_jitter_change_pixels_not_masks(clean):
    images, labels, maps = scenes.generate(300, seed=3)
    assert torch.equal(labels, clean[1]) and torch.equal(maps, clean[2])
    assert not torch.equal(images, clean[0])
    assert _colour_errors(images, maps) > 0  # the noisy pixels no longer hit the palette


def _one_object(shape="circle", texture="stripes", radius=8.0, size=32, angle=0.0):
    """A layout with only the main object, at the centre, red on blue."""
    knobs = scenes.Knobs(distractors=0, noise=0.0, jitter=0.0, clutter=0)
    lay = scenes.layout(torch.tensor([scenes.SHAPES.index(shape)]), size, knobs,
                        torch.Generator().manual_seed(0))
    colours = list(scenes.COLOURS)
    lay.update(cx=torch.tensor([[size / 2]]), cy=torch.tensor([[size / 2]]),
               radius=torch.tensor([[radius]]), angle=torch.tensor([[angle]]),
               texture=torch.tensor([[scenes.TEXTURES.index(texture)]]),
               primary=torch.tensor([[colours.index("red")]]),
               secondary=torch.tensor([[colours.index("blue")]]))
    return scenes.render(lay, knobs, torch.Generator().manual_seed(0))


def test_a_constructed_circle_covers_exactly_the_pixel_centres_inside_it():
    images, maps = _one_object()
    centres = np.arange(32) + 0.5
    inside = (centres[:, None] - 16) ** 2 + (centres[None, :] - 16) ** 2 <= 64
    assert np.array_equal(maps[0, SHAPE].numpy() > 0, inside)
    assert set(maps[0, SHAPE][torch.from_numpy(inside)].tolist()) == {1 + scenes.SHAPES.index("circle")}
    # The boundary is the one-pixel outline: inside pixels with a 4-neighbour outside.
    padded = np.pad(inside, 1)
    interior = (padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:])
    assert np.array_equal(maps[0, PART].numpy(), np.where(inside, np.where(interior, 2, 1), 0))
    # The rim is plain red; stripes of blue fill the interior.
    palette, colour = _palette_bytes(), maps[0, COLOUR]
    red, blue = (1 + list(scenes.COLOURS).index(c) for c in ("red", "blue"))
    assert set(colour[maps[0, PART] == 1].tolist()) == {red}
    assert set(colour[maps[0, PART] == 2].tolist()) == {red, blue}
    assert torch.equal(images[0, :, 16, 16], palette[int(colour[16, 16]) - 1])
    assert set(maps[0, TEXTURE][torch.from_numpy(inside)].tolist()) == {
        1 + scenes.TEXTURES.index("stripes")}


@pytest.mark.parametrize("shape", scenes.SHAPES)
def test_every_shape_is_drawn_within_its_radius_and_fills_part_of_it(shape):
    _, maps = _one_object(shape, texture="plain", radius=12.0, angle=0.3)
    drawn = maps[0, SHAPE] > 0
    assert set(maps[0, SHAPE][drawn].tolist()) == {1 + scenes.SHAPES.index(shape)}
    area = int(drawn.sum())
    assert 0.12 * math.pi * 144 < area <= math.pi * 1.2 ** 2 * 144


def test_shapes_differ_from_each_other():
    drawn = [(_one_object(s, "plain", 12.0)[1][0, SHAPE] > 0) for s in scenes.SHAPES]
    for i in range(len(drawn)):
        for j in range(i):
            assert int((drawn[i] ^ drawn[j]).sum()) > 20, (scenes.SHAPES[i], scenes.SHAPES[j])


def test_knobs_are_checked():
    with pytest.raises(ValueError, match="noise"):
        scenes.Knobs(noise=-1)
    with pytest.raises(ValueError, match="distractor_scale"):
        scenes.Knobs(distractor_scale=1.5)
    with pytest.raises(ValueError, match="split"):
        scenes.generate(4, split="holdout")


def test_grid_tiles_images_and_label_maps(clean):
    images, _, maps = clean
    canvas = scenes.grid(images[:10], columns=4, gap=1)
    assert canvas.shape == (3 * 33 + 1, 4 * 33 + 1, 3) and canvas.dtype == np.uint8
    assert np.array_equal(canvas[1 + 33:1 + 33 + 32, 1 + 66:1 + 66 + 32],
                          images[6].permute(1, 2, 0).numpy())  # row 1, column 2
    coloured = scenes.grid(maps[:3, SHAPE])
    assert coloured.shape == (34, 8 * 33 + 1, 3)
    # Every label gets its own colour, and only "no label" is black.
    labels = torch.arange(len(scenes.CONCEPTS["shape"]))[None, None].expand(1, 4, -1)
    tile = scenes.grid(labels, gap=0)[:1].reshape(-1, 3)[:len(scenes.CONCEPTS["shape"])]
    assert len({tuple(c) for c in tile}) == len(tile) and tile[1:].max(1).min() > 0
    with pytest.raises(ValueError):
        scenes.grid(images[:2].float())


# --- data.load("scenes") --------------------------------------------------------------------

SMALL = dict(train=200, val=50, test=60, noise=0.0, jitter=0.0)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path / "store"))
    return tmp_path / "store"


def test_load_gives_normalised_splits_with_test_masks(store):
    ds = data.load("scenes", **SMALL)
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (200, 50, 60)
    assert ds.input_shape == (3, 32, 32) and ds.num_classes == 10 and ds.augment
    assert torch.bincount(ds.y_test, minlength=10).tolist() == [6] * 10
    assert ds.x_train.mean((0, 2, 3)).abs().max() < 1e-4
    assert (ds.x_train.std((0, 2, 3)) - 1).abs().max() < 1e-3
    assert set(ds.masks) == {"test"} and ds.concepts == scenes.CONCEPTS
    # The test masks belong to the test images, in the same order.
    images, labels, maps = scenes.generate(60, 0, "test", knobs=scenes.Knobs(**{
        k: SMALL[k] for k in ("noise", "jitter")}))
    assert torch.equal(ds.y_test, labels) and torch.equal(ds.masks["test"], maps)
    assert torch.equal(ds.concept_map("test", "colour"), maps[:, COLOUR])
    with pytest.raises(KeyError, match="train"):
        ds.concept_map("train", "colour")


def test_load_reads_the_store_the_second_time(store, monkeypatch):
    first = data.load("scenes", **SMALL)
    assert any(store.rglob("result.pt"))
    monkeypatch.setattr(scenes, "generate", lambda *a, **k: pytest.fail("generated again"))
    again = data.load("scenes", **SMALL)
    assert again.fingerprint == first.fingerprint
    assert torch.equal(again.x_test, first.x_test)


def test_the_test_split_does_not_depend_on_the_training_size(store):
    small = data.load("scenes", **SMALL)
    bigger = data.load("scenes", **{**SMALL, "train": 300})
    assert torch.equal(small.y_test, bigger.y_test)
    assert torch.equal(small.masks["test"], bigger.masks["test"])


def test_load_options(store):
    ds = data.load("scenes", train=30, val=0, test=20, size=16, masks=["train", "test"],
                   augment=False)
    assert ds.x_val is None and ds.input_shape == (3, 16, 16) and not ds.augment
    assert set(ds.masks) == {"train", "test"} and ds.masks["train"].shape == (30, 5, 16, 16)
    split = ds.split_validation(10)
    # Masks travel with their images into the validation split and what stays in training.
    for part in ("train", "val"):
        images = getattr(split, f"x_{part}")
        where = [next(j for j in range(30) if torch.equal(ds.x_train[j], x)) for x in images]
        assert torch.equal(split.masks[part], ds.masks["train"][where])
    with_val = data.load("scenes", train=30, val=10, test=20, masks=("val", "test"))
    assert set(with_val.masks) == {"val", "test"}
    assert set(with_val.split_validation(5).masks) == {"test"}  # new validation images
    with pytest.raises(ValueError, match="noise"):
        data.load("scenes", nosie=0.1)
    with pytest.raises(ValueError, match="masks"):
        data.load("scenes", masks=("holdout",))
    with pytest.raises(ValueError, match="only scenes"):
        data.load("mnist5k", train=10)


def test_raw_is_the_split_as_generated(tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    options = dict(train=20, val=10, test=30, size=16, noise=0.0)
    ds = scenes.dataset(**options)
    shown, labels, masks = scenes.raw("test", **options)
    images, _, expected = scenes.generate(30, 0, "test", 16, scenes.Knobs(noise=0.0))
    assert torch.equal(shown, images) and torch.equal(masks, expected)
    assert torch.equal(labels, ds.y_test) and scenes.raw("train", **options)[2] is None
    # the dataset's test images are these, normalised per channel: same order of pixels
    assert torch.equal(ds.x_test[:, 0].flatten().argsort(stable=True),
                       shown[:, 0].float().flatten().argsort(stable=True))
