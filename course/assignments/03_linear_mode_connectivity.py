# The nbgrader assignment for chapter 3 (notebooks/03_linear_mode_connectivity.ipynb). The cell
# kinds are described in lthkit/course/source.py; `make course` builds the student version, and
# tests/test_course.py grades the solutions, blanks and wrong answers below through nbgrader.
# The chapter's network and scenes, made small: a ResNet-8 of width 4 (it has batch norm, as
# the chapter's does) on 512 generated 16×16 scenes, trained for 30 iterations.

# %% [setup]
import math

import torch
import torch.nn.functional as F

from lthkit import calibrated, engine, models, stability

# Small networks run fastest on one thread: on a busy 2-core machine a second one made them
# twenty times slower. (lthkit's training runs each network on one thread anyway.)
torch.set_num_threads(1)
MODEL = "cifar_resnet_8_4"
scenes = calibrated.dataset(train=512, val=0, test=200)
config = calibrated.config(train_steps="30it", eval_every="30it", batch_size=64, milestones=())
SPLIT = 10

# %% [setup]
# (A cell of its own: `nbgrader validate` gives each cell 30 seconds, and on a busy machine
# loading the data and training can each take some of them.)
# A pair: one network trained to iteration SPLIT, then two copies to the end, each with its
# own data order (the chapter's instability analysis).
first, second = stability.train_copies(engine.Run(MODEL, scenes, config, order_seed=0),
                                       split_at=SPLIT, order_seeds=(0, 1))
a, b = first.final_state, second.final_state
PRUNABLE = models.prunable(models.for_data(MODEL, 0, scenes))   # the conv and linear weights


def test_loss(state):
    """Mean cross-entropy of a network with weights ``state`` on the test images, evaluated
    as it is (its batch-norm statistics as they are in ``state``)."""
    network = models.for_data(MODEL, 0, scenes)
    network.load_state_dict(state)
    with torch.no_grad():
        return float(F.cross_entropy(network.eval()(scenes.x_test), scenes.y_test))

# %% [exercise 1 sha=9d18c8b3]
# *For discussion, not graded:* it needs the chapter rerun with a finer grid of split points,
# e.g. `lthkit run notebooks/03_linear_mode_connectivity.ipynb -p conv_splits "[0, 10, 20, 40, 80]"
# --out runs/fine`, and once more with `-p conv_lr 0.01`.

# %% [exercise 2 sha=b71cbc65]

# %% [markdown]
# **Task 2a.** Write `instabilities(path)`. `path` is a list of rows, one per point θ(α) of a
# path, each a dict with `"alpha"`, `"train_error"` and `"test_error"` (as
# `stability.error_along_path` returns them, though in any order). Return
# `{"train": ..., "test": ...}`: for each kind of error, its largest value on the path minus
# the mean of its values at the two ends of the path (α = 0 and α = 1).

# %% [answer instabilities]
def instabilities(path):
    ### BEGIN SOLUTION
    rows = sorted(path, key=lambda row: row["alpha"])
    out = {}
    for kind in ("train", "test"):
        errors = [row[f"{kind}_error"] for row in rows]
        out[kind] = max(errors) - (errors[0] + errors[-1]) / 2
    return out
    ### END SOLUTION

# %% [tests test_instabilities_in_order points=1]
alphas = [0.0, 0.25, 0.5, 0.75, 1.0]
train, test = [0.1, 0.2, 0.4, 0.3, 0.2], [0.3, 0.5, 0.6, 0.4, 0.1]
path = [{"alpha": x, "train_error": r, "test_error": t} for x, r, t in zip(alphas, train, test)]
got = instabilities(path)
assert math.isclose(got["train"], max(train) - (train[0] + train[-1]) / 2), got
assert math.isclose(got["test"], max(test) - (test[0] + test[-1]) / 2), got

# %% [tests test_instabilities_any_order points=2]
### BEGIN HIDDEN TESTS
generator = torch.Generator().manual_seed(0)
for _ in range(3):
    rows = [{"alpha": i / 6, "train_error": float(torch.rand(1, generator=generator)),
             "test_error": float(torch.rand(1, generator=generator))} for i in range(7)]
    shuffled = [rows[i] for i in torch.randperm(7, generator=generator)]
    got = instabilities(shuffled)
    for kind in ("train", "test"):
        expected = stability.instability([row[f"{kind}_error"] for row in rows])
        assert math.isclose(got[kind], expected), (kind, got, expected)
### END HIDDEN TESTS

# %% [markdown]
# **Train or test?** The pair's path on training and on test images (5 points, a few hundred
# images; the chapter plots this for every pair).

# %%
path = stability.error_along_path(MODEL, a, b, scenes, alphas=5, train_examples=500, bn_batches=4)
instabilities(path)

# %% [exercise 3 sha=d597f5ce]

# %% [markdown]
# **Task 3a.** Write `loss_interpolated_statistics(a, b, alpha)`: the test loss (`test_loss`
# above) of θ(α) = (1−α)·a + α·b **with the interpolated running statistics** of its batch
# norms, as `stability.interpolate` gives them, rather than statistics measured again on
# training batches as `stability.error_along_path` does.

# %% [answer interpolated]
def loss_interpolated_statistics(a, b, alpha):
    ### BEGIN SOLUTION
    return test_loss(stability.interpolate(a, b, alpha))
    ### END SOLUTION

# %% [tests test_interpolated_ends points=1]
for alpha, end in ((0.0, a), (1.0, b)):
    got = loss_interpolated_statistics(a, b, alpha)
    assert math.isclose(got, test_loss(end), rel_tol=1e-5), f"at α = {alpha}: {got}, the network itself: {test_loss(end)}"

# %% [tests test_interpolated_middle points=2]
### BEGIN HIDDEN TESTS
for alpha in (0.3, 0.5):
    between = {name: (1 - alpha) * x + alpha * b[name] if torch.is_floating_point(x) else x
               for name, x in a.items()}
    got = loss_interpolated_statistics(a, b, alpha)
    assert math.isclose(got, test_loss(between), rel_tol=1e-4), (alpha, got, test_loss(between))
### END HIDDEN TESTS

# %% [markdown]
# **How large is the hump now?** Test loss along the path with the statistics interpolated and
# with them measured again (the chapter's way).

# %%
def loss_measured_statistics(alpha):
    network = models.for_data(MODEL, 0, scenes)
    network.load_state_dict(stability.interpolate(a, b, alpha))
    stability.reset_batch_norm(network, scenes, batches=4)
    return test_loss(network.state_dict())


[{"alpha": alpha, "interpolated": loss_interpolated_statistics(a, b, alpha),
  "measured again": loss_measured_statistics(alpha)} for alpha in (0, 0.25, 0.5, 0.75, 1)]

# %% [exercise 4 sha=e2a9108e]

# %% [markdown]
# **Task 4a.** Write `extrapolate(a, b, alpha)`: θ(α) = (1−α)·a + α·b for any real α (below 0
# the point lies beyond `a`, above 1 beyond `b`), for every floating-point tensor; every other
# tensor (the batch norms' counters, `num_batches_tracked`) is taken from `a`. `torch.lerp`
# helps.

# %% [answer extrapolate]
def extrapolate(a, b, alpha):
    ### BEGIN SOLUTION
    return {name: torch.lerp(x, b[name], float(alpha)) if torch.is_floating_point(x) else x.clone()
            for name, x in a.items()}
    ### END SOLUTION

# %% [tests test_extrapolate_beyond points=1]
small_a = {"w": torch.tensor([1.0, -2.0]), "n": torch.tensor(7)}
small_b = {"w": torch.tensor([3.0, 2.0]), "n": torch.tensor(9)}
for alpha in (-0.5, 1.5):
    got = extrapolate(small_a, small_b, alpha)
    expected = small_a["w"] + alpha * (small_b["w"] - small_a["w"])
    assert torch.allclose(got["w"], expected), f"α = {alpha}: {got['w']}, expected {expected}"
    assert got["n"] == small_a["n"], "counters are a's"

# %% [tests test_extrapolate_states points=2]
### BEGIN HIDDEN TESTS
for alpha in (0.0, 0.4, 1.0):
    got, expected = extrapolate(a, b, alpha), stability.interpolate(a, b, alpha)
    assert set(got) == set(expected) and all(torch.allclose(got[n], expected[n]) for n in expected), alpha
got = extrapolate(a, b, -0.5)
for name, x in a.items():
    if torch.is_floating_point(x):
        assert torch.allclose(got[name], 1.5 * x - 0.5 * b[name], atol=1e-6), name
    else:
        assert torch.equal(got[name], x), name
### END HIDDEN TESTS

# %% [markdown]
# **Task 4b.** Write `random_direction(a, b, names, seed)`: a random direction as long as the
# step from `a` to `b`. Return a dict with a tensor for each of `names` (the shapes of `a`'s),
# Gaussian values drawn from `torch.Generator().manual_seed(seed)`, scaled together (one factor
# for all of them) so that their overall L2 norm equals the L2 norm of `b − a` over those
# tensors.

# %% [answer direction]
def random_direction(a, b, names, seed):
    ### BEGIN SOLUTION
    generator = torch.Generator().manual_seed(seed)
    drawn = {name: torch.randn(a[name].shape, generator=generator) for name in names}
    length = math.sqrt(sum(float((b[n] - a[n]).double().square().sum()) for n in names))
    norm = math.sqrt(sum(float(d.double().square().sum()) for d in drawn.values()))
    return {name: d * (length / norm) for name, d in drawn.items()}
    ### END SOLUTION

# %% [tests test_direction_length points=1]
direction = random_direction(a, b, PRUNABLE, seed=0)
assert set(direction) == set(PRUNABLE), "one tensor per name"
assert all(direction[n].shape == a[n].shape for n in PRUNABLE), "the shapes of a's tensors"
length = math.sqrt(sum(float((b[n] - a[n]).double().square().sum()) for n in PRUNABLE))
norm = math.sqrt(sum(float(d.double().square().sum()) for d in direction.values()))
assert math.isclose(norm, length, rel_tol=1e-4), f"length {norm}, the step from a to b is {length}"

# %% [tests test_direction_random points=1]
### BEGIN HIDDEN TESTS
direction = random_direction(a, b, PRUNABLE, 0)
again, other = random_direction(a, b, PRUNABLE, 0), random_direction(a, b, PRUNABLE, 1)
assert all(torch.equal(again[n], direction[n]) for n in PRUNABLE), "the same seed must give the same direction"
assert not all(torch.allclose(other[n], direction[n]) for n in PRUNABLE), "another seed, another direction"
d = torch.cat([direction[n].flatten() for n in PRUNABLE]).double()
step = torch.cat([(b[n] - a[n]).flatten() for n in PRUNABLE]).double()
assert abs(float(d @ step / (d.norm() * step.norm()))) < 0.1, "a random direction is nearly orthogonal to the path"
### END HIDDEN TESTS

# %% [markdown]
# **Beyond the segment.** Test loss along the path from α = −0.5 to 1.5, and across it: from
# the midpoint θ(0.5), steps along your random direction of the same lengths.

# %%
middle = extrapolate(a, b, 0.5)
across = random_direction(a, b, PRUNABLE, seed=0)
rows = []
for alpha in (-0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.25, 1.5):
    sideways = {n: x + (alpha - 0.5) * across[n] if n in across else x for n, x in middle.items()}
    rows.append({"alpha": alpha, "along": test_loss(extrapolate(a, b, alpha)),
                 "across": test_loss(sideways)})
rows

# %% [wrong instabilities breaks=test_instabilities_any_order] takes the first and last rows as the ends
def instabilities(path):
    out = {}
    for kind in ("train", "test"):
        errors = [row[f"{kind}_error"] for row in path]
        out[kind] = max(errors) - (errors[0] + errors[-1]) / 2
    return out

# %% [wrong interpolated breaks=test_interpolated_ends,test_interpolated_middle] measures the statistics again, as error_along_path does
def loss_interpolated_statistics(a, b, alpha):
    network = models.for_data(MODEL, 0, scenes)
    network.load_state_dict(stability.interpolate(a, b, alpha))
    stability.reset_batch_norm(network, scenes, batches=4)
    return test_loss(network.state_dict())

# %% [wrong extrapolate breaks=test_extrapolate_beyond,test_extrapolate_states] signs flipped: steps from b towards a
def extrapolate(a, b, alpha):
    return {name: torch.lerp(b[name], x, float(alpha)) if torch.is_floating_point(x) else x.clone()
            for name, x in a.items()}

# %% [wrong direction breaks=test_direction_length] unit length, not the length of the step
def random_direction(a, b, names, seed):
    generator = torch.Generator().manual_seed(seed)
    drawn = {name: torch.randn(a[name].shape, generator=generator) for name in names}
    norm = math.sqrt(sum(float(d.double().square().sum()) for d in drawn.values()))
    return {name: d / norm for name, d in drawn.items()}
