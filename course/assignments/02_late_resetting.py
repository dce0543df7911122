# The nbgrader assignment for chapter 2 (notebooks/02_late_resetting.ipynb). The cell kinds are
# described in lthkit/course/source.py; `make course` builds the student version, and
# tests/test_course.py grades the solutions, blanks and wrong answers below through nbgrader.
# The chapter trains a ResNet on generated scenes; here LeNet-300-100 on the MNIST subset, for
# 30 iterations, so that every cell runs in seconds. The mechanisms are the chapter's.

# %% [setup]
import dataclasses
import math

import torch

from lthkit import data, engine, masks, models, stability
from lthkit.train import Config

# Small networks run fastest on one thread: on a busy 2-core machine a second one made them
# twenty times slower. (lthkit's training runs each network on one thread anyway.)
torch.set_num_threads(1)
MODEL = "lenet_300_100"
config = Config(train_steps="30it", eval_every="30it")   # a few iterations: enough to part ways
K = 10                                                     # the rewinding iteration k

# %% [setup]
# Cells of their own for the data and for training: `nbgrader validate` gives each cell 30
# seconds, and on a busy machine each can take some of them.
mnist = data.load("mnist5k")

# %% [setup]
# The dense network, trained to the end with data order 0, keeping its weights (W_k) and its
# optimiser's state at iteration K.
dense_run = engine.Run(MODEL, mnist, config, order_seed=0, checkpoints=(K,))
dense = engine.fit(dense_run)
w_0 = models.build(MODEL, init_seed=0).state_dict()
w_k = dense.checkpoints[K]
# A ticket's mask: 20% of each layer, by the magnitude of the trained dense weights.
full = masks.Mask.ones(models.build(MODEL, init_seed=0))
ticket_mask = masks.magnitude_prune({name: dense.final_state[name] for name in full}, full, 0.8)


def ticket_run(state, start):
    """The ticket (its mask on ``state``) trained in isolation from iteration ``start``."""
    return engine.Run(MODEL, mnist, config, order_seed=0, state=state, mask=ticket_mask,
                      start=start)

# %% [exercise 1 sha=624ca40a]
# *For discussion, not graded:* it needs the whole chapter rerun with more rounds, e.g.
# `lthkit run notebooks/02_late_resetting.ipynb -p rounds 6 --out runs/rounds6`, then reading
# its accuracy table at each sparsity.

# %% [exercise 2 sha=91411be7]

# %% [markdown]
# **Task 2a.** Write `order_stability(run, order_seeds)`. `run` is an `engine.Run` of a
# subnetwork (its `state`, `mask` and `start` set). Train two copies of it that differ only in
# their data order, one with each of the two `order_seeds` (`dataclasses.replace` changes one
# field of a run; `engine.train_many` trains several), and return how far apart they end,
# measured through the run's mask as `stability.pruning_stability` measures it: a dict with
# `"distance"` and `"angle"`.

# %% [answer order_stability]
def order_stability(run, order_seeds=(0, 1)):
    ### BEGIN SOLUTION
    first, second = engine.train_many([dataclasses.replace(run, order_seed=seed)
                                       for seed in order_seeds])
    return stability.pruning_stability(first.final_state, second.final_state, run.mask)
    ### END SOLUTION

# %% [tests test_order_stability_parts points=1]
same = order_stability(ticket_run(w_k, K), order_seeds=(3, 3))
assert same["distance"] == 0 and same["angle"] == 0, f"one data order twice must end in one place: {same}"
apart = order_stability(ticket_run(w_k, K), order_seeds=(0, 1))
assert apart["distance"] > 0 and 0 < apart["angle"] < 90, f"two data orders should part: {apart}"

# %% [tests test_order_stability_values points=2]
### BEGIN HIDDEN TESTS
for state, start, seeds in ((w_0, 0, (1, 2)), (w_k, K, (0, 4))):
    run = ticket_run(state, start)
    a, b = (engine.fit(dataclasses.replace(run, order_seed=s)).final_state for s in seeds)
    x = torch.cat([(a[n] * m).flatten() for n, m in ticket_mask.items()]).double()
    y = torch.cat([(b[n] * m).flatten() for n, m in ticket_mask.items()]).double()
    angle = math.degrees(math.acos(float(x @ y / (x.norm() * y.norm()))))
    got = order_stability(run, seeds)
    assert math.isclose(got["distance"], float((x - y).norm()), rel_tol=1e-6), got
    assert abs(got["angle"] - angle) < 1e-3, (got, angle)
### END HIDDEN TESTS

# %% [markdown]
# **Does it fall with k?** Stability to data order of the ticket rewound to iteration 0 and to
# iteration K (one seed, a few iterations: enough to try your code, not to conclude).

# %%
{f"k = {k}": order_stability(ticket_run(state, k)) for k, state in ((0, w_0), (K, w_k))}

# %% [exercise 3 sha=9e6d3616]

# %% [markdown]
# **Task 3a.** The chapter's dense network keeps its optimiser's state (Adam's moments here)
# past W_k. Write `fresh_optimizer_run(run, result, k)`: given the dense `run` and its trained
# `result` (which kept its weights at iteration `k` in `result.checkpoints[k]`), return the
# `engine.Run` that trains the dense network from W_k to the end, with the same data order,
# **restarting its optimiser** at iteration `k` (the learning-rate schedule continuing from `k`).

# %% [answer fresh_optimizer]
def fresh_optimizer_run(run, result, k):
    ### BEGIN SOLUTION
    return dataclasses.replace(run, state=result.checkpoints[k], start=k, optimizer_state=None,
                               checkpoints=())
    ### END SOLUTION

# %% [tests test_fresh_optimizer_start points=1]
fresh = fresh_optimizer_run(dense_run, dense, K)
assert fresh.start == K, f"the run must start at iteration {K}, not {fresh.start}"
assert fresh.mask is None, "the dense network has no mask"
assert fresh.order_seed == dense_run.order_seed, "the data order must be the dense network's"
assert all(torch.equal(fresh.state[n], w_k[n]) for n in w_k), "the run must start from W_k"

# %% [tests test_fresh_optimizer_trains points=2]
### BEGIN HIDDEN TESTS
expected = engine.fit(engine.Run(MODEL, mnist, config, order_seed=0, state=w_k, start=K))
got = engine.fit(fresh_optimizer_run(dense_run, dense, K))
assert got.iterations == expected.iterations, f"{got.iterations} iterations, expected {expected.iterations}"
assert all(torch.equal(got.final_state[n], expected.final_state[n]) for n in expected.final_state), \
    "the run does not train as the dense network from W_k with a fresh optimiser does"
### END HIDDEN TESTS

# %% [markdown]
# **How much do the angles change?** The ticket rewound to K against the dense network that
# kept its optimiser (the chapter's reading) and against the one that restarted it (the
# paper's definition).

# %%
ticket = engine.fit(ticket_run(w_k, K)).final_state
restarted = engine.fit(fresh_optimizer_run(dense_run, dense, K)).final_state
{"kept its optimiser": stability.pruning_stability(ticket, dense.final_state, ticket_mask),
 "restarted it": stability.pruning_stability(ticket, restarted, ticket_mask)}

# %% [exercise 4 sha=9645556f]

# %% [markdown]
# **Task 4a.** The L2 distance through a mask sums over the weights the mask keeps, so a
# sparser mask gives a smaller distance even when every weight moves as far. Write
# `rms_distance(a, b, mask)`: the distance between `a` and `b` over the weights `mask` keeps,
# divided by the square root of the number of weights it keeps (the root mean square of the
# differences per kept weight).

# %% [answer rms]
def rms_distance(a, b, mask):
    ### BEGIN SOLUTION
    squares = sum(float(((a[n] - b[n]) * keep).double().square().sum()) for n, keep in mask.items())
    return math.sqrt(squares / sum(int(keep.sum()) for keep in mask.values()))
    ### END SOLUTION

# %% [tests test_rms_constant points=1]
shifted = {name: value + 0.5 for name, value in w_k.items()}
for rate in (0.0, 0.8, 0.99):
    mask = masks.magnitude_prune({n: w_k[n] for n in full}, full, rate)
    got = rms_distance(w_k, shifted, mask)
    assert abs(got - 0.5) < 1e-6, f"every weight moved by 0.5, yet {got} with {rate:.0%} pruned"

# %% [tests test_rms_values points=2]
### BEGIN HIDDEN TESTS
for seed in (1, 2):
    other = models.build(MODEL, init_seed=seed).state_dict()
    mask = masks.random_prune(ticket_mask, seed)
    expected = stability.masked_distance(w_k, other, mask) / math.sqrt(mask.kept())
    assert math.isclose(rms_distance(w_k, other, mask), expected, rel_tol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# **Distance, distance per weight and angle** between the ticket trained in isolation and the
# dense network, at several fractions of weights remaining (masks by magnitude, the same
# rewinding point K). Which of the three falls with the number of weights alone?

# %%
rows = []
for rate in (0.5, 0.8, 0.95):
    mask = masks.magnitude_prune({n: dense.final_state[n] for n in full}, full, rate)
    alone = engine.fit(engine.Run(MODEL, mnist, config, order_seed=0, state=w_k, mask=mask, start=K))
    measured = stability.pruning_stability(alone.final_state, dense.final_state, mask)
    rows.append({"weights_remaining": round(100 * mask.density(), 1), **measured,
                 "rms_distance": rms_distance(alone.final_state, dense.final_state, mask)})
rows

# %% [wrong order_stability breaks=test_order_stability_parts,test_order_stability_values] trains both copies with the run's own data order
def order_stability(run, order_seeds=(0, 1)):
    first, second = engine.train_many([run, run])
    return stability.pruning_stability(first.final_state, second.final_state, run.mask)

# %% [wrong fresh_optimizer breaks=test_fresh_optimizer_trains] continues with the dense network's optimiser state
def fresh_optimizer_run(run, result, k):
    return stability.continued(run, result, k, run.order_seed)

# %% [wrong rms breaks=test_rms_constant,test_rms_values] the distance over all weights instead of under the mask
def rms_distance(a, b, mask):
    squares = sum(float((a[n] - b[n]).double().square().sum()) for n in mask)
    return math.sqrt(squares / sum(int(keep.sum()) for keep in mask.values()))
