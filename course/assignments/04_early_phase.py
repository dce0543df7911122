# The nbgrader assignment for chapter 4 (notebooks/04_early_phase.ipynb). The cell kinds are
# described in lthkit/course/source.py; `make course` builds the student version, and
# tests/test_course.py grades the solutions, blanks and wrong answers below through nbgrader.
# The chapter perturbs a ResNet's rewound weights on generated scenes; here LeNet-300-100's on
# the MNIST subset, trained for 30 iterations, so that every cell runs in seconds. The
# perturbations are pure functions of (W_k, mask, seed), as in lthkit.perturb.

# %% [setup]
import math

import torch

from lthkit import data, engine, masks, models, perturb, stability
from lthkit.train import Config

# Small networks run fastest on one thread: on a busy 2-core machine a second one made them
# twenty times slower. (lthkit's training runs each network on one thread anyway.)
torch.set_num_threads(1)
MODEL = "lenet_300_100"
config = Config(train_steps="30it", eval_every="30it")
K = 10                                                    # the rewinding iteration k

# %% [setup]
# Cells of their own for the data and for training: `nbgrader validate` gives each cell 30
# seconds, and on a busy machine each can take some of them.
mnist = data.load("mnist5k")

# %% [setup]
dense = engine.fit(engine.Run(MODEL, mnist, config, order_seed=0, checkpoints=(K,)))
w_0 = models.build(MODEL, init_seed=0).state_dict()
w_k = dense.checkpoints[K]
full = masks.Mask.ones(models.build(MODEL, init_seed=0))
# A ticket's mask: 20% of each layer, by the magnitude of the trained weights.
ticket_mask = masks.magnitude_prune({n: dense.final_state[n] for n in full}, full, 0.8)
init_std = perturb.init_std(w_0, ticket_mask)             # each layer's std at iteration 0


def copy(state):
    """A copy of a state dict, so that a function that changes its input changes nothing here."""
    return {name: value.clone() for name, value in state.items()}


def trained_accuracy(state):
    """Test accuracy of the ticket's mask on ``state``, trained from iteration K to the end."""
    run = engine.Run(MODEL, mnist, config, order_seed=0, state=state, mask=ticket_mask, start=K)
    return round(engine.fit(run).final_test_acc, 3)

# %% [exercise 1 sha=bdfe9c27]
# *For discussion, not graded:* it needs the chapter rerun at other rewinding points, e.g.
# `lthkit run notebooks/04_early_phase.ipynb -p rewind_step 25it --out runs/k25`, and reading
# its perturbation table next to its table of early-phase statistics.

# %% [exercise 2 sha=e69bcc28]

# %% [markdown]
# **Task 2a.** Write `random_signs(state, mask, perturb_seed)`, the mirror of
# `perturb.reinit_keep_signs`: every weight the mask keeps takes the **magnitude** of its value
# in `state` (W_k) and a **random sign**, + or − with equal chance, each drawn independently
# from `torch.Generator().manual_seed(perturb_seed)` (so the same seed gives the same signs).
# Pruned positions are 0; every tensor the mask does not name is as in `state`; `state` itself
# is left unchanged.

# %% [answer random_signs]
def random_signs(state, mask, perturb_seed):
    ### BEGIN SOLUTION
    generator = torch.Generator().manual_seed(perturb_seed)
    out = {name: value.clone() for name, value in state.items()}
    for name, keep in mask.items():
        signs = torch.randint(0, 2, state[name].shape, generator=generator) * 2 - 1
        out[name] = state[name].abs() * signs * keep
    return out
    ### END SOLUTION

# %% [tests test_random_signs_magnitudes points=1]
before = copy(w_k)
mixed = random_signs(w_k, ticket_mask, 3)
assert all(torch.equal(w_k[n], before[n]) for n in w_k), "random_signs changed its input"
for name, value in w_k.items():
    if name in ticket_mask:
        keep = ticket_mask[name]
        assert torch.equal(mixed[name][keep].abs(), value[keep].abs()), f"{name}: magnitudes must be W_k's, exactly"
        assert (mixed[name][~keep] == 0).all(), f"{name}: pruned weights must be 0"
    else:
        assert torch.equal(mixed[name], value), f"{name} is not under the mask: it must stay as in W_k"

# %% [tests test_random_signs_flip_half points=1]
mixed = random_signs(w_k, ticket_mask, 3)
flipped = torch.cat([(mixed[n] * w_k[n] < 0)[keep] for n, keep in ticket_mask.items()]).double().mean()
assert 0.45 < flipped < 0.55, f"{float(flipped):.1%} of the signs changed; random signs change about half"

# %% [tests test_random_signs_seeded points=2]
### BEGIN HIDDEN TESTS
one, again, other = (random_signs(w_k, ticket_mask, seed) for seed in (5, 5, 6))
assert all(torch.equal(one[n], again[n]) for n in w_k), "the same seed must give the same signs"
assert not all(torch.equal(one[n], other[n]) for n in ticket_mask), "another seed must give other signs"
for name, keep in ticket_mask.items():
    share = float((one[name] * w_k[name] < 0)[keep].double().mean())
    assert 0.3 < share < 0.7, f"{name}: {share:.1%} of the signs changed"
### END HIDDEN TESTS

# %% [markdown]
# **Which matters more here?** The ticket, the chapter's sign-keeping reinitialisation and your
# magnitude-keeping one, each trained from iteration K (one seed, a few iterations: enough to
# try your code, not to conclude).

# %%
{"ticket (W_k)": trained_accuracy(w_k),
 "signs of W_k, fresh magnitudes": trained_accuracy(perturb.reinit_keep_signs(w_k, ticket_mask, init_std, 1)),
 "magnitudes of W_k, random signs": trained_accuracy(random_signs(w_k, ticket_mask, 1))}

# %% [exercise 3 sha=b3010b33]

# %% [markdown]
# **Task 3a.** `perturb.shuffle` permutes each layer's surviving weights among that layer's
# surviving positions. Write `shuffle_across_layers(state, mask, perturb_seed)`: the surviving
# values of **all** the mask's layers together, permuted among all their surviving positions
# (one permutation, drawn with `torch.randperm(..., generator=torch.Generator().manual_seed(
# perturb_seed))`), so a value may land in another layer. Pruned positions stay 0, tensors the
# mask does not name stay as in `state`, and `state` is left unchanged.

# %% [answer across]
def shuffle_across_layers(state, mask, perturb_seed):
    ### BEGIN SOLUTION
    generator = torch.Generator().manual_seed(perturb_seed)
    alive = {name: torch.nonzero(keep.flatten()).flatten() for name, keep in mask.items()}
    values = torch.cat([state[name].flatten()[alive[name]] for name in mask])
    values = values[torch.randperm(len(values), generator=generator)]
    out, offset = {name: value.clone() for name, value in state.items()}, 0
    for name, keep in mask.items():
        flat = torch.zeros_like(state[name]).flatten()
        flat[alive[name]] = values[offset:offset + len(alive[name])]
        offset += len(alive[name])
        out[name] = flat.view_as(state[name])
    return out
    ### END SOLUTION

# %% [tests test_across_keeps_values points=1]
before = copy(w_k)
shuffled = shuffle_across_layers(w_k, ticket_mask, 3)
assert all(torch.equal(w_k[n], before[n]) for n in w_k), "shuffle_across_layers changed its input"
survivors = lambda s: torch.cat([s[n][keep] for n, keep in ticket_mask.items()]).sort().values
assert torch.equal(survivors(shuffled), survivors(w_k)), "the surviving values, all layers together, must be W_k's"
for name, value in w_k.items():
    if name in ticket_mask:
        assert (shuffled[name][~ticket_mask[name]] == 0).all(), f"{name}: pruned weights must be 0"
    else:
        assert torch.equal(shuffled[name], value), f"{name} is not under the mask: it must stay as in W_k"

# %% [tests test_across_crosses_layers points=1]
shuffled = shuffle_across_layers(w_k, ticket_mask, 3)
moved = [name for name, keep in ticket_mask.items()
         if not torch.equal(shuffled[name][keep].sort().values, w_k[name][keep].sort().values)]
assert moved, "every layer kept its own values: they were shuffled within layers, not across"

# %% [tests test_across_mixes points=2]
### BEGIN HIDDEN TESTS
one, again, other = (shuffle_across_layers(w_k, ticket_mask, seed) for seed in (5, 5, 6))
assert all(torch.equal(one[n], again[n]) for n in w_k), "the same seed must give the same permutation"
assert not all(torch.equal(one[n], other[n]) for n in ticket_mask), "another seed, another permutation"
everything = torch.cat([w_k[n][keep] for n, keep in ticket_mask.items()]).double()
for name, keep in ticket_mask.items():
    if keep.sum() >= 1000:     # enough values for their spread to be the whole network's
        spread = float(one[name][keep].double().std())
        assert abs(spread / float(everything.std()) - 1) < 0.1, \
            f"{name}: its values spread like this layer's, not like the network's"
### END HIDDEN TESTS

# %% [markdown]
# **Is it worse than shuffling within layers?** Compare each layer's spread of surviving
# weights, then the trained accuracies.

# %%
within = perturb.shuffle(w_k, ticket_mask, 1)
across = shuffle_across_layers(w_k, ticket_mask, 1)
spreads = {name: {"W_k": round(float(w_k[name][keep].std()), 4),
                  "across layers": round(float(across[name][keep].std()), 4)}
           for name, keep in ticket_mask.items()}
spreads, {"within layers": trained_accuracy(within), "across layers": trained_accuracy(across)}

# %% [exercise 4 sha=de97ef4a]
# *For discussion, not graded:* it needs the chapter rerun with other lengths of pre-training,
# e.g. `lthkit run notebooks/04_early_phase.ipynb -p pretrain_steps 100it --out runs/p100`
# (the chapter's parameter cell shows its default P), and reading its pre-training table.

# %% [exercise 5 sha=4fd72925]

# %% [markdown]
# **Task 5a.** `perturb.add_noise` adds to each weight the mask keeps Gaussian noise of
# standard deviation `scale × std[layer]`. Write `noise_distance(mask, std, scale)`: how far
# that noise moves the weights, as the root of its expected squared L2 length, over the
# weights the mask keeps (a layer of n kept weights and noise std σ contributes n·σ²).

# %% [answer noise]
def noise_distance(mask, std, scale):
    ### BEGIN SOLUTION
    return math.sqrt(sum(int(keep.sum()) * (scale * std[name]) ** 2 for name, keep in mask.items()))
    ### END SOLUTION

# %% [tests test_noise_distance_sampled points=1]
for scale in (0.25, 1.0):
    noisy = perturb.add_noise(w_k, ticket_mask, init_std, scale, perturb_seed=7)
    moved = stability.masked_distance(noisy, w_k, ticket_mask)
    got = noise_distance(ticket_mask, init_std, scale)
    assert abs(got / moved - 1) < 0.02, f"noise of scale {scale} moved the weights {moved:.4f}, not {got:.4f}"

# %% [tests test_noise_distance_exact points=2]
### BEGIN HIDDEN TESTS
for seed in (1, 2):
    mask = masks.random_prune(ticket_mask, seed)
    std = {name: 0.01 * (i + seed) for i, name in enumerate(mask)}
    per_weight = torch.cat([torch.full((int(keep.sum()),), 0.3 * std[name], dtype=torch.float64)
                            for name, keep in mask.items()])
    assert math.isclose(noise_distance(mask, std, 0.3), float(per_weight.norm()), rel_tol=1e-9)
### END HIDDEN TESTS

# %% [markdown]
# **Noise as a distance.** Accuracy after noise of several scales, against the distance the
# noise moves the weights, and the distance the weights travelled between W_0 and W_k.

# %%
travelled = stability.masked_distance(w_0, w_k, ticket_mask)
rows = [{"scale": scale, "noise distance": round(noise_distance(ticket_mask, init_std, scale), 3),
         "accuracy": trained_accuracy(perturb.add_noise(w_k, ticket_mask, init_std, scale, 1))}
        for scale in (0.25, 0.5, 1.0)]
{"W_0 to W_k": round(travelled, 3), "noise": rows}

# %% [wrong random_signs breaks=test_random_signs_flip_half,test_random_signs_seeded] signs flipped: -W_k, not random signs
def random_signs(state, mask, perturb_seed):
    out = {name: value.clone() for name, value in state.items()}
    for name, keep in mask.items():
        out[name] = -state[name] * keep
    return out

# %% [wrong random_signs breaks=test_random_signs_seeded] draws the signs from torch's global generator, not the seeded one
def random_signs(state, mask, perturb_seed):
    out = {name: value.clone() for name, value in state.items()}
    for name, keep in mask.items():
        signs = torch.randint(0, 2, state[name].shape) * 2 - 1
        out[name] = state[name].abs() * signs * keep
    return out

# %% [wrong across breaks=test_across_crosses_layers,test_across_mixes] shuffles within each layer instead of across layers
def shuffle_across_layers(state, mask, perturb_seed):
    return perturb.shuffle(state, mask, perturb_seed)

# %% [wrong noise breaks=test_noise_distance_sampled,test_noise_distance_exact] counts all weights, not those the mask keeps
def noise_distance(mask, std, scale):
    return math.sqrt(sum(keep.numel() * (scale * std[name]) ** 2 for name, keep in mask.items()))
