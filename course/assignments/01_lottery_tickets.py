# The nbgrader assignment for chapter 1 (notebooks/01_lottery_tickets.ipynb). The cell kinds
# are described in lthkit/course/source.py; `make course` builds the student version, and
# tests/test_course.py grades the solutions, blanks and wrong answers below through nbgrader.

# %% [setup]
import torch

from lthkit import data, engine, hparams, masks, models, xor
from lthkit.train import Config

MODEL = "lenet_300_100"                  # the chapter's network
chapter = hparams.resolve("lottery")     # the chapter's default settings (XOR's schedule)
network = models.build(MODEL, init_seed=0)
ticket_init = {name: value.clone() for name, value in network.state_dict().items()}
# A mask keeping 20% of every layer, chosen by magnitude (from these weights, for speed: the
# chapter chooses it from trained ones).
ticket_mask = masks.magnitude_prune(masks.weights(network), masks.Mask.ones(network), 0.8)


def copy(state):
    """A copy of a state dict, so that a function that changes its input changes nothing here."""
    return {name: value.clone() for name, value in state.items()}

# %% [exercise 1 sha=c39b6814]
# *For discussion, not graded:* it needs the whole chapter rerun with 25 rounds, e.g.
# `lthkit run notebooks/01_lottery_tickets.ipynb -p rounds 25 --out runs/rounds25`, then
# reading its accuracy and early-stopping tables.

# %% [exercise 2 sha=469dcb81]

# %% [markdown]
# **Task 2a.** Write `sign_kept_reinit(initial, mask, seed)`. It returns a state dict with the
# same names and shapes as `initial` (the ticket's initial weights), where every prunable
# weight (the names in `mask`) has
#
# - the **magnitude** of the weight that `models.build(MODEL, seed)` draws at that position,
# - the **sign** of the ticket's initial weight at that position,
# - the value 0 where `mask` prunes it;
#
# and every other parameter (the biases) is as `models.build(MODEL, seed)` draws it.
# `torch.sign` and `Tensor.abs` help.

# %% [answer sign_kept]
def sign_kept_reinit(initial, mask, seed):
    ### BEGIN SOLUTION
    fresh = models.build(MODEL, seed).state_dict()
    control = {}
    for name, value in initial.items():
        if name in mask:
            control[name] = fresh[name].abs() * value.sign() * mask[name]
        else:
            control[name] = fresh[name].clone()
    return control
    ### END SOLUTION

# %% [tests test_sign_kept_shape points=1]
control = sign_kept_reinit(copy(ticket_init), ticket_mask, seed=1)
assert set(control) == set(ticket_init), "the control must have the same parameters as the ticket"
for name, value in control.items():
    assert value.shape == ticket_init[name].shape, f"{name} has the wrong shape"
for name, keep in ticket_mask.items():
    assert (control[name][~keep] == 0).all(), f"{name}: pruned weights must be exactly 0"

# %% [tests test_sign_kept_signs points=1]
control = sign_kept_reinit(copy(ticket_init), ticket_mask, seed=1)
for name, keep in ticket_mask.items():
    assert torch.equal(control[name][keep].sign(), ticket_init[name][keep].sign()), \
        f"{name}: the kept weights must have the signs of the ticket's initial weights"

# %% [tests test_sign_kept_fresh points=2]
### BEGIN HIDDEN TESTS
for seed in (1, 2):
    control = sign_kept_reinit(copy(ticket_init), ticket_mask, seed)
    fresh = models.build(MODEL, seed).state_dict()
    for name, value in fresh.items():
        if name in ticket_mask:
            keep = ticket_mask[name]
            assert torch.allclose(control[name][keep].abs(), value[keep].abs()), \
                f"{name}: magnitudes must be those models.build(MODEL, {seed}) draws"
        else:
            assert torch.equal(control[name], value), f"{name} must be as drawn"
### END HIDDEN TESTS

# %% [markdown]
# **Where does it land?** The next cell trains the ticket, your control and the `reinit`
# control (the same mask on fresh weights, signs and all) for 100 iterations on the chapter's
# MNIST subset, with one seed: enough to try your code, not to conclude. For a conclusion,
# train each longer and over several seeds, as the chapter does.

# %%
mnist = data.load("mnist5k").split_validation(500, seed=0)
config = Config(train_steps="100it", eval_every="100it")
runs = {"ticket": ticket_init, "sign-kept control": sign_kept_reinit(copy(ticket_init), ticket_mask, 1),
        "reinit": models.build(MODEL, 1).state_dict()}
results = engine.train_many([engine.Run(MODEL, mnist, config, order_seed=0, state=state, mask=ticket_mask)
                             for state in runs.values()])
{kind: round(result.final_test_acc, 3) for kind, result in zip(runs, results)}

# %% [exercise 3 sha=e361852d]

# %% [markdown]
# **Task 3a.** Write `global_prune(weights, mask, rate)`: rank the *surviving* weights of all
# layers together by magnitude and prune the fraction `rate` of them with the **smallest**
# magnitudes (`round(rate * survivors)` weights). Return a new `masks.Mask` (layer name →
# boolean tensor, True = kept) and leave `mask` as it was. `weights` maps the same layer names
# to tensors (`masks.weights(network)`).

# %% [answer global_prune]
def global_prune(weights, mask, rate):
    ### BEGIN SOLUTION
    names = list(mask)
    scores = torch.cat([weights[n].abs().flatten()[mask[n].flatten()] for n in names])
    drop = round(rate * len(scores))
    order = torch.argsort(scores, stable=True)[:drop]
    removed = torch.zeros(len(scores), dtype=torch.bool)
    removed[order] = True
    new, offset = masks.Mask(), 0
    for n in names:
        flat = mask[n].flatten().clone()
        alive = torch.nonzero(flat).flatten()
        flat[alive[removed[offset:offset + len(alive)]]] = False
        offset += len(alive)
        new[n] = flat.view_as(mask[n])
    return new
    ### END SOLUTION

# %% [tests test_global_prune_count points=1]
full = masks.Mask.ones(network)
before = {name: keep.clone() for name, keep in full.items()}
pruned = global_prune(masks.weights(network), full, 0.5)
assert all(torch.equal(full[name], before[name]) for name in full), "global_prune changed its input mask"
kept = sum(int(keep.sum()) for keep in pruned.values())
assert kept == full.kept() - round(0.5 * full.kept()), f"{kept} weights kept, expected half"
assert all(not (pruned[name] & ~full[name]).any() for name in full), "a pruned weight came back"

# %% [tests test_global_prune_smallest points=1]
small = {"a": torch.tensor([[0.1, 0.2, -0.3, 3.0]]), "b": torch.tensor([[2.0, -1.5, 0.5, 4.0]])}
every = masks.Mask({name: torch.ones_like(value, dtype=torch.bool) for name, value in small.items()})
pruned = global_prune(small, every, 0.5)
assert pruned["a"].tolist() == [[False, False, False, True]], f"layer a: {pruned['a'].tolist()}"
assert pruned["b"].tolist() == [[True, True, False, True]], f"layer b: {pruned['b'].tolist()}"

# %% [tests test_global_prune_lthkit points=2]
### BEGIN HIDDEN TESTS
other = masks.magnitude_prune(masks.weights(models.build(MODEL, 5)), masks.Mask.ones(network), 0.3)
for rate in (0.2, 0.6):
    ours = global_prune(masks.weights(network), other, rate)
    theirs = masks.magnitude_prune(masks.weights(network), other, rate, scope="global")
    assert all(torch.equal(ours[name], theirs[name]) for name in theirs), \
        f"at rate {rate} the mask differs from lthkit's global magnitude pruning"
### END HIDDEN TESTS

# %% [markdown]
# **Task 3b.** Write `most_pruned_layer(mask)`: the name of the layer with the smallest
# fraction of its weights remaining.

# %% [answer most_pruned]
def most_pruned_layer(mask):
    ### BEGIN SOLUTION
    return min(mask, key=lambda name: mask[name].float().mean().item())
    ### END SOLUTION

# %% [tests test_most_pruned_small points=1]
example = masks.Mask({"a": torch.tensor([True, False, True, True]), "b": torch.tensor([True, False, False]),
                      "c": torch.tensor([True, True])})
assert most_pruned_layer(example) == "b", most_pruned_layer(example)

# %% [tests test_most_pruned_lenet points=1]
### BEGIN HIDDEN TESTS
for rate in (0.8, 0.95):
    lenet = masks.magnitude_prune(masks.weights(network), masks.Mask.ones(network), rate, scope="global")
    density = lenet.layer_density()
    assert most_pruned_layer(lenet) == min(density, key=density.get), density
### END HIDDEN TESTS

# %% [markdown]
# Which layers lose the most? The density of each layer of the chapter's network once global
# pruning keeps 20% of its weights (lthkit's own global pruning, so this runs whatever your
# answers). Whether the ticket then trains better or worse than with layer-wise rates is for
# discussion: `lottery.imp_seeds(lottery.Experiment(scope="global", ...), ...)` runs the
# chapter's experiment that way.

# %%
globally = masks.magnitude_prune(masks.weights(network), masks.Mask.ones(network), 0.8, scope="global")
{name: round(density, 3) for name, density in globally.layer_density().items()}

# %% [exercise 4 sha=1a82f479]

# %% [setup]
xor_points = data.load("xor").x_train        # the four XOR inputs, one per row


def train(w):
    """The chapter's full-batch gradient descent on XOR for one xor_mlp_2 state dict."""
    stacked = {name: value[None] for name, value in w.items()}
    trained = xor.train_many(stacked, chapter.xor_iterations, chapter.xor_lr)
    return {name: value[0] for name, value in trained.items()}


def solves(w):
    """Whether a trained xor_mlp_2 puts all four XOR points on the right side."""
    return bool(xor.success({name: value[None] for name, value in w.items()})[0])

# %% [markdown]
# **Task 4a.** Write `failing_init()`: the initial weights of a 2-unit network (a state dict
# like `models.build("xor_mlp_2", 0).state_dict()`) from which `train` fails to solve XOR
# (`solves(train(w))` is False). Draw it from the chapter's initialisation
# (`models.build("xor_mlp_2", seed)` for some seed) or set it by hand, within that
# initialisation's range (every weight between −0.2 and 0.2) and with no hidden unit whose
# incoming weights are all zero.

# %% [answer failing_init]
def failing_init():
    ### BEGIN SOLUTION
    for seed in range(100):
        w = models.build("xor_mlp_2", seed).state_dict()
        if not solves(train(w)):
            return w
    ### END SOLUTION

# %% [tests test_failing_init_shape points=1]
w = failing_init()
like = models.build("xor_mlp_2", 0).state_dict()
assert set(w) == set(like) and all(w[n].shape == like[n].shape for n in like), "not an xor_mlp_2 state dict"
assert all(value.abs().max() <= 0.2 for value in w.values()), "weights must lie in [-0.2, 0.2]"
assert (w["fc1.weight"].abs().sum(dim=1) > 0).all(), "a hidden unit has no incoming weights"

# %% [tests test_failing_init_fails points=2]
### BEGIN HIDDEN TESTS
assert not solves(train(failing_init())), "gradient descent solves XOR from this initialisation"
### END HIDDEN TESTS

# %% [markdown]
# **Task 4b.** Write `hidden_activity(w)`: the outputs of the two hidden units (after the ReLU)
# on the four XOR points, a 4×2 tensor whose row *i* is for `xor_points[i]`. The network
# computes `relu(x @ fc1.weight.T + fc1.bias)` in its hidden layer.

# %% [answer activity]
def hidden_activity(w):
    ### BEGIN SOLUTION
    return torch.relu(xor_points @ w["fc1.weight"].T + w["fc1.bias"])
    ### END SOLUTION

# %% [tests test_activity_shape points=1]
h = hidden_activity(models.build("xor_mlp_2", 3).state_dict())
assert tuple(h.shape) == (4, 2), f"shape {tuple(h.shape)}, expected (4, 2)"
assert (h >= 0).all(), "a ReLU unit's output is never negative"

# %% [tests test_activity_values points=1]
### BEGIN HIDDEN TESTS
for seed in (3, 4):
    w = {name: torch.randn_like(value) for name, value in models.build("xor_mlp_2", seed).state_dict().items()}
    expected = torch.relu(xor_points @ w["fc1.weight"].T + w["fc1.bias"])
    assert torch.allclose(hidden_activity(w), expected), "not the hidden units' outputs"
### END HIDDEN TESTS

# %% [markdown]
# What do the two hidden units do at the end of training from your failing initialisation?
# Look at which of the four points each unit still responds to, and compare with a seed from
# which training succeeds.

# %%
hidden_activity(train(failing_init()))

# %% [wrong sign_kept breaks=test_sign_kept_signs] keeps the fresh weights' signs
def sign_kept_reinit(initial, mask, seed):
    fresh = models.build(MODEL, seed).state_dict()
    return {name: fresh[name] * mask[name] if name in mask else fresh[name] for name in initial}

# %% [wrong sign_kept breaks=test_sign_kept_fresh] keeps the initial magnitudes as well
def sign_kept_reinit(initial, mask, seed):
    return {name: value * mask[name] if name in mask else value for name, value in initial.items()}

# %% [wrong global_prune breaks=test_global_prune_smallest,test_global_prune_lthkit] prunes the largest
def global_prune(weights, mask, rate):
    names = list(mask)
    scores = torch.cat([weights[n].abs().flatten()[mask[n].flatten()] for n in names])
    order = torch.argsort(scores, descending=True, stable=True)[:round(rate * len(scores))]
    removed = torch.zeros(len(scores), dtype=torch.bool)
    removed[order] = True
    new, offset = masks.Mask(), 0
    for n in names:
        flat = mask[n].flatten().clone()
        alive = torch.nonzero(flat).flatten()
        flat[alive[removed[offset:offset + len(alive)]]] = False
        offset += len(alive)
        new[n] = flat.view_as(mask[n])
    return new

# %% [wrong most_pruned breaks=test_most_pruned_small,test_most_pruned_lenet] the least pruned
def most_pruned_layer(mask):
    return max(mask, key=lambda name: mask[name].float().mean().item())

# %% [wrong failing_init breaks=test_failing_init_fails] a seed picked without training from it
def failing_init():
    return models.build("xor_mlp_2", 5).state_dict()

# %% [wrong activity breaks=test_activity_values] forgets the bias
def hidden_activity(w):
    return torch.relu(xor_points @ w["fc1.weight"].T)
