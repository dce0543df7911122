"""lthkit.pretrain: blurred images have the stated resolution, rotation labels name the rotation
applied, random labels are a seeded permutation that ignores the images, and IMP starts from the
pre-trained weights with the real task's output layer."""
import dataclasses

import pytest
import torch

from lthkit import data, lottery, models, pretrain
from lthkit.train import Config

CONFIG = Config(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=16, train_steps="6it",
                eval_every="3it")


@pytest.fixture(scope="module")
def images():
    """Small random colour images (3×8×8) of 10 classes, augmented like scenes."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 3, 8, 8, generator=g)
    y = torch.arange(96) % 10
    ds = data.Dataset("tiny", x, y, torch.randn(40, 3, 8, 8, generator=g), torch.arange(40) % 10,
                      num_classes=10, augment=True)
    return ds.split_validation(20, seed=0)


@pytest.mark.parametrize("factor", [2, 4])
def test_blurred_images_hold_one_value_per_block_the_blocks_mean(factor):
    x = torch.randn(5, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    out = pretrain.blur(x, factor)
    assert out.shape == x.shape
    blocks = out.unfold(2, factor, factor).unfold(3, factor, factor)   # (N, C, H/f, W/f, f, f)
    assert torch.all(blocks == blocks[..., :1, :1]), "one value per block"
    torch.testing.assert_close(blocks[..., 0, 0], torch.nn.functional.avg_pool2d(x, factor))
    distinct = {len(torch.unique(out[i, c])) for i in range(5) for c in range(3)}
    assert distinct == {(8 // factor) ** 2}


def test_a_blur_factor_must_divide_the_image():
    with pytest.raises(ValueError, match="divide"):
        pretrain.blur(torch.zeros(1, 3, 8, 8), 3)


def test_rotation_turns_each_image_by_its_own_quarter_turns():
    x = torch.randn(8, 3, 6, 6, generator=torch.Generator().manual_seed(2))
    turns = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    out = pretrain.rotate(x, turns)
    for i, k in enumerate(turns.tolist()):
        assert torch.equal(torch.rot90(out[i], -k, dims=(-2, -1)), x[i])
    assert torch.equal(out[0], x[0]) and not torch.equal(out[1], x[1])
    with pytest.raises(ValueError, match="square"):
        pretrain.rotate(torch.zeros(1, 3, 4, 6), torch.tensor([1]))


def test_rotation_batches_are_the_augmented_batches_turned_by_their_labels(images):
    task = pretrain.pretext(images, "rotation", label_seed=0)
    assert task.num_classes == 4 and task.x_val is None
    seen = set()
    for iteration in range(4):
        x, labels = task.batch(16, order_seed=5, iteration=iteration)
        plain, _ = images.batch(16, order_seed=5, iteration=iteration)
        assert torch.equal(pretrain.rotate(plain, labels), x)
        seen |= set(labels.tolist())
        again, same = task.batch(16, order_seed=5, iteration=iteration)
        assert torch.equal(again, x) and torch.equal(same, labels)
    assert seen == {0, 1, 2, 3}
    # the test images are turned by their labels too
    assert torch.equal(pretrain.rotate(images.x_test, task.y_test), task.x_test)


def test_blur_batches_are_the_augmented_batches_blurred(images):
    task = pretrain.pretext(images, "blur", blur_factor=2)
    x, y = task.batch(16, order_seed=1, iteration=3)
    plain, labels = images.batch(16, order_seed=1, iteration=3)
    assert torch.equal(x, pretrain.blur(plain, 2)) and torch.equal(y, labels)
    assert torch.equal(task.x_test, pretrain.blur(images.x_test, 2))
    assert task.fingerprint != pretrain.pretext(images, "blur", blur_factor=4).fingerprint


def test_random_labels_are_a_seeded_permutation_that_ignores_the_images(images):
    task = pretrain.pretext(images, "random_labels", label_seed=3)
    assert torch.equal(torch.sort(task.y_train).values, torch.sort(images.y_train).values)
    assert (task.y_train != images.y_train).float().mean() > 0.5
    other_images = dataclasses.replace(images, x_train=torch.zeros_like(images.x_train))
    assert torch.equal(pretrain.pretext(other_images, "random_labels", label_seed=3).y_train,
                       task.y_train)
    assert not torch.equal(pretrain.pretext(images, "random_labels", label_seed=4).y_train,
                           task.y_train)
    assert torch.equal(task.x_train, images.x_train)


def test_unknown_tasks_are_refused(images):
    with pytest.raises(ValueError, match="unknown pre-training task"):
        pretrain.pretext(images, "jigsaw")
    with pytest.raises(ValueError, match="unknown pre-training task"):
        pretrain.Pretraining("jigsaw", CONFIG)


def test_rotation_pretraining_learns_a_four_way_head_that_imp_replaces(images, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    how = pretrain.Pretraining("rotation", CONFIG)
    done = pretrain.pretrain("conv2_4", images, how, seed=1)
    head = models.output_layer(models.for_data("conv2_4", 1, images))
    assert done["state"][head].shape[0] == 4 and done["iterations"] == 6
    initial = models.for_data("conv2_4", 1, images).state_dict()
    assert not torch.equal(done["state"]["features.0.weight"], initial["features.0.weight"])
    start = pretrain.starting_weights(done["state"], "conv2_4", images, "rotation", seed=1)
    bias = head.rsplit(".", 1)[0] + ".bias"
    assert torch.equal(start[head], initial[head]) and torch.equal(start[bias], initial[bias])
    assert torch.equal(start["features.0.weight"], done["state"]["features.0.weight"])
    # the store answers a second call
    assert pretrain.pretrain("conv2_4", images, how, seed=1)["seconds"] == done["seconds"]


def test_imp_after_pretraining_puts_the_pretrained_weights_in_place_of_w_k(images, tmp_path,
                                                                           monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    experiment = lottery.Experiment(model="conv2_4", dataset="tiny", train=CONFIG, rounds=1,
                                    prune_rate=0.5, output_prune_rate=None, rewind_step="4it",
                                    controls=())
    tasks = [pretrain.Pretraining(t, dataclasses.replace(CONFIG, train_steps="4it"))
             for t in ("blur", "random_labels")]
    rows = pretrain.imp_after(experiment, images, tasks, seeds=[0, 1])
    assert [(r["task"], r["round"]) for r in rows] == [
        (t, r) for t in ("blur", "random_labels") for _ in (0, 1) for r in (0, 1)]
    assert all(r["iterations"] == 6 - 4 for r in rows)   # from k = 4 to the end, as rewinding
    for how, seed in ((tasks[0], 1), (tasks[1], 0)):
        pretrained = pretrain.pretrain("conv2_4", images, how, seed)["state"]
        ticket = lottery.imp_chains([(experiment, seed, pretrained)], images,
                                    states=True)[0][1]
        assert all(torch.equal(ticket["rewind_state"][k], pretrained[k]) for k in pretrained)
        mine = next(r for r in rows if r["task"] == how.task and r["seed"] == seed
                    and r["round"] == 1)
        assert mine["trajectory"] == ticket["trajectory"]


def test_a_pretraining_must_last_as_long_as_the_rewinding_it_stands_in_for(images, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    experiment = lottery.Experiment(model="conv2_4", dataset="tiny", train=CONFIG, rounds=1,
                                    rewind_step="3it", controls=())
    how = pretrain.Pretraining("blur", dataclasses.replace(CONFIG, train_steps="4it"))
    with pytest.raises(ValueError, match="must be equal"):
        pretrain.imp_after(experiment, images, [how], seeds=[0])
