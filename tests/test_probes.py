"""Probes held in memory: a dataset's split with its concept masks, batches, pictures."""
import pytest
import torch

from lthkit import data, probes, scenes


@pytest.fixture(scope="module")
def tiny_scenes(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LTHKIT_STORE", str(tmp_path_factory.mktemp("store")))
        return data.load("scenes", train=20, val=10, test=30, size=16)


def test_a_probe_from_a_dataset_split_has_its_masks_and_concepts(tiny_scenes):
    probe = probes.TensorProbe.from_dataset(tiny_scenes, "test", limit=12)
    assert len(probe) == 12 and probe.categories == scenes.CONCEPTS
    images, labels = probe.batch(4, 10)
    assert torch.equal(images, tiny_scenes.x_test[4:10])
    assert set(labels) == set(scenes.CATEGORIES)
    shape = labels["shape"]
    assert shape.shape == (6, 1, 16, 16) and shape.dtype == torch.long
    assert torch.equal(shape[:, 0], tiny_scenes.concept_map("test", "shape")[4:10].long())


def test_the_fingerprint_follows_the_contents(tiny_scenes):
    a = probes.TensorProbe.from_dataset(tiny_scenes, limit=12)
    assert a.fingerprint == probes.TensorProbe.from_dataset(tiny_scenes, limit=12).fingerprint
    assert a.fingerprint != probes.TensorProbe.from_dataset(tiny_scenes, limit=11).fingerprint


def test_pictures_are_shown_only_when_given(tiny_scenes):
    pictures = torch.zeros(30, 3, 16, 16, dtype=torch.uint8)
    pictures[7] = 200
    probe = probes.TensorProbe.from_dataset(tiny_scenes, pictures=pictures)
    assert probe.picture([7]).eq(200).all() and probe.picture([6]).eq(0).all()
    with pytest.raises(ValueError, match="without pictures"):
        probes.TensorProbe.from_dataset(tiny_scenes).picture([0])


def test_labels_must_match_the_images_and_the_concepts():
    with pytest.raises(ValueError, match="concepts are named"):
        probes.TensorProbe(torch.zeros(2, 3, 4, 4), {"a": torch.zeros(2, 4, 4)}, {"b": ("",)})
    with pytest.raises(ValueError, match=r"must be \(2"):
        probes.TensorProbe(torch.zeros(2, 3, 4, 4), {"a": torch.zeros(3, 4, 4)}, {"a": ("",)})
