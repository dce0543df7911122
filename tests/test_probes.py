"""Probes held in memory: the scenes test split with its concept masks, normalised like the
training images of the networks probed; batches, pictures, fingerprints."""
import pytest
import torch

from lthkit import data, probes, scenes

OPTIONS = dict(train=20, val=10, test=30, size=16)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LTHKIT_STORE", str(tmp_path_factory.mktemp("store")))
        yield


@pytest.fixture(scope="module")
def tiny_scenes(store):
    return data.load("scenes", **OPTIONS)


def test_the_scenes_probe_is_the_test_split_as_the_network_sees_it(tiny_scenes):
    probe = probes.scenes_probe(12, "scenes", OPTIONS)
    assert len(probe) == 12 and probe.categories == scenes.CONCEPTS
    images, labels = probe.batch(4, 10)
    assert torch.equal(images, tiny_scenes.x_test[4:10])
    assert set(labels) == set(scenes.CATEGORIES)
    shape = labels["shape"]
    assert shape.shape == (6, 1, 16, 16) and shape.dtype == torch.long
    assert torch.equal(shape[:, 0], tiny_scenes.concept_map("test", "shape")[4:10].long())
    assert torch.equal(probe.picture([5]), scenes.raw("test", **OPTIONS)[0][5:6])


def test_a_probe_for_networks_trained_on_cifar_is_normalised_like_cifar(store):
    probe = probes.scenes_probe(3, "cifar10", {"train": 5})     # cifar: scenes' own options
    raw = scenes.raw("test")[0][:3].float() / 255
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in probes.normalisation("cifar10"))
    assert torch.allclose(probe.images, (raw - mean) / std)
    with pytest.raises(ValueError, match="no image normalisation"):
        probes.normalisation("mnist")


def test_the_fingerprint_follows_the_contents(tiny_scenes):
    a = probes.scenes_probe(12, "scenes", OPTIONS)
    assert a.fingerprint == probes.scenes_probe(12, "scenes", OPTIONS).fingerprint
    assert a.fingerprint != probes.scenes_probe(11, "scenes", OPTIONS).fingerprint


def test_pictures_are_shown_only_when_given():
    probe = probes.TensorProbe(torch.zeros(2, 3, 4, 4), {"a": torch.zeros(2, 4, 4)}, {"a": ("",)})
    with pytest.raises(ValueError, match="without pictures"):
        probe.picture([0])


def test_labels_must_match_the_images_and_the_concepts():
    with pytest.raises(ValueError, match="concepts are named"):
        probes.TensorProbe(torch.zeros(2, 3, 4, 4), {"a": torch.zeros(2, 4, 4)}, {"b": ("",)})
    with pytest.raises(ValueError, match=r"must be \(2"):
        probes.TensorProbe(torch.zeros(2, 3, 4, 4), {"a": torch.zeros(3, 4, 4)}, {"a": ("",)})
