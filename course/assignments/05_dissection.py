# The nbgrader assignment for chapter 5 (notebooks/05_dissection.ipynb). The cell kinds are
# described in lthkit/course/source.py; `make course` builds the student version, and
# tests/test_course.py grades the solutions, blanks and wrong answers below through nbgrader.
# The chapter dissects ResNets trained on generated scenes; here a two-layer conv net of width
# 16, trained for 30 iterations on 512 scenes of 16×16 pixels and dissected on 200 probe images,
# so that every cell runs in seconds. The dissection is lthkit's own (lthkit.dissect).

# %% [setup]
import torch

from lthkit import calibrated, data, dissect, engine, masks, models, probes

# Small networks run fastest on one thread: on a busy 2-core machine a second one made them
# twenty times slower. (lthkit's training runs each network on one thread anyway.)
torch.set_num_threads(1)
MODEL = "conv2_16"
OPTIONS = dict(calibrated.DATA, train=512, val=0, test=200)   # the chapter's scenes, fewer
scenes = data.load("scenes", **OPTIONS)
probe = probes.scenes_probe(limit=200, options=OPTIONS)      # test images with concept masks
config = calibrated.config(train_steps="30it", eval_every="30it", batch_size=64, milestones=())
w_0 = models.for_data(MODEL, 0, scenes).state_dict()

# %% [setup]
# (A cell of its own: `nbgrader validate` gives each cell 30 seconds, and on a busy machine
# loading the data and training can each take some of them.)


def trained(state, mask=None):
    """The network trained from ``state`` (under ``mask``), ready to dissect."""
    result = engine.fit(engine.Run(MODEL, scenes, config, order_seed=0, state=state, mask=mask))
    network = models.for_data(MODEL, 0, scenes)
    network.load_state_dict(result.final_state)
    return network


network = trained(w_0)
found = dissect.dissect(network, probe)          # the dense network's units
full = masks.Mask.ones(network)
# A ticket's mask: 20% of each layer by the magnitude of the trained weights.
ticket_mask = masks.magnitude_prune(masks.weights(network), full, 0.8)


def dissection_of(iou, concepts, iou_threshold=dissect.IOU_THRESHOLD):
    """A made-up ``dissect.Dissection`` with these IoUs (layer → units × concepts) and concepts
    ((category, name) per column), each unit's row as dissect.dissect makes it."""
    rows = []
    for layer, table in iou.items():
        best, which = table.max(1)
        for unit, (score, column) in enumerate(zip(best.tolist(), which.tolist())):
            rows.append({"layer": layer, "unit": unit, "category": concepts[column][0],
                         "concept": concepts[column][1], "iou": score,
                         "interpretable": score >= iou_threshold, "threshold": 0.0})
    return dissect.Dissection(rows, concepts, iou, {}, {}, iou_threshold)

# %% [exercise 1 sha=3d3dfd65]

# %% [markdown]
# **Task 1a.** A dissection keeps every unit's IoUs, so another threshold needs no new
# dissection. Write `interpretable_counts(result, threshold)`: for each layer of the
# `dissect.Dissection` `result`, how many of its units would be interpretable at `threshold`
# (their best IoU at least `threshold`), as a dict layer → count with every layer present. Each
# row of `result.units` holds a unit's `"layer"` and best `"iou"`.
#
# *For discussion:* rerunning the chapter with `-p iou_threshold 0.02` and `0.08`, which claims
# change their verdict?

# %% [answer counts]
def interpretable_counts(result, threshold):
    ### BEGIN SOLUTION
    counts = {}
    for row in result.units:
        counts[row["layer"]] = counts.get(row["layer"], 0) + (row["iou"] >= threshold)
    return counts
    ### END SOLUTION

# %% [tests test_counts_default points=1]
got = interpretable_counts(found, found.iou_threshold)
expected = {row["layer"]: row["interpretable"] for row in dissect.counts(found, by="layer")}
assert got == expected, f"at the dissection's own threshold: {got}, dissect.counts says {expected}"

# %% [tests test_counts_thresholds points=2]
### BEGIN HIDDEN TESTS
best = torch.cat([table.max(1).values for table in found.iou.values()])
for threshold in (0.0, float(best.median()), 0.02, 0.08, float(best.max()) + 0.01):
    expected = {layer: int((table.max(1).values >= threshold).sum()) for layer, table in found.iou.items()}
    assert interpretable_counts(found, threshold) == expected, threshold
### END HIDDEN TESTS

# %% [markdown]
# **The threshold.** Interpretable units per layer of the dense network at three thresholds.

# %%
{threshold: interpretable_counts(found, threshold) for threshold in (0.02, 0.04, 0.08)}

# %% [exercise 2 sha=2895556a]
# *For discussion, not graded:* it needs the chapter's table of counts per level, and the
# chapter rerun with `lthkit run notebooks/05_dissection.ipynb -p layers last --out runs/last`.

# %% [exercise 3 sha=7aec3ff7]

# %% [markdown]
# **Task 3a.** A weight tensor's first dimension is the unit it feeds: `weight[j]` holds every
# weight into output channel (or output neuron) `j`. Write `shuffle_units(mask, seed)`: a new
# `masks.Mask` where, in every layer, the rows `mask[layer][j]` are permuted among the units:
# one random permutation of the layer's units per layer, drawn in the mask's order with
# `torch.randperm(..., generator=generator)` from one
# `generator = torch.Generator().manual_seed(seed)`. Each unit then keeps another unit's
# pattern of incoming weights, whole. Leave `mask` as it was.

# %% [answer shuffle_units]
def shuffle_units(mask, seed):
    ### BEGIN SOLUTION
    generator = torch.Generator().manual_seed(seed)
    return masks.Mask({name: keep[torch.randperm(keep.shape[0], generator=generator)]
                       for name, keep in mask.items()})
    ### END SOLUTION

# %% [tests test_shuffle_units_counts points=1]
before = {name: keep.clone() for name, keep in ticket_mask.items()}
shuffled = shuffle_units(ticket_mask, 0)
assert all(torch.equal(ticket_mask[n], before[n]) for n in before), "shuffle_units changed its input mask"
assert set(shuffled) == set(ticket_mask), "the same layers"
for name, keep in ticket_mask.items():
    assert shuffled[name].shape == keep.shape and shuffled[name].dtype == torch.bool, f"{name}: shape or dtype"
    per_unit = lambda m: sorted(m.flatten(1).sum(1).tolist())
    assert per_unit(shuffled[name]) == per_unit(keep), f"{name}: the units' numbers of incoming weights must be the ticket's"

# %% [tests test_shuffle_units_rows points=1]
shuffled = shuffle_units(ticket_mask, 0)
rows = lambda m: sorted(tuple(row) for row in m.flatten(1).int().tolist())
for name, keep in ticket_mask.items():
    assert rows(shuffled[name]) == rows(keep), f"{name}: each unit must keep some unit's incoming pattern, whole"
assert any(not torch.equal(shuffled[n], ticket_mask[n]) for n in ticket_mask), "no layer was shuffled"

# %% [tests test_shuffle_units_seeded points=1]
### BEGIN HIDDEN TESTS
one, again, other = (shuffle_units(ticket_mask, seed) for seed in (4, 4, 5))
assert all(torch.equal(one[n], again[n]) for n in ticket_mask), "the same seed must give the same mask"
assert any(not torch.equal(one[n], other[n]) for n in ticket_mask), "another seed, another mask"
generator = torch.Generator().manual_seed(4)
for name, keep in ticket_mask.items():
    assert torch.equal(one[name], keep[torch.randperm(keep.shape[0], generator=generator)]), \
        f"{name}: not the permutation of units the seeded generator draws"
### END HIDDEN TESTS

# %% [markdown]
# **Does it keep its interpretable units?** The ticket (its mask on W_0), random pruning of the
# same layer densities and your control, each trained and dissected (one seed, a few
# iterations: enough to try your code, not to conclude).

# %%
controls = {"ticket": ticket_mask, "random pruning": masks.random_prune(ticket_mask, 1),
            "units shuffled": shuffle_units(ticket_mask, 1)}
{kind: dissect.counts(dissect.dissect(trained(w_0, mask), probe), by=None)[0]
 for kind, mask in controls.items()}

# %% [exercise 4 sha=6b0db4b7]

# %% [markdown]
# **Task 4a.** Write `interior_units(result)`: the set of `(layer, unit)` of the interpretable
# units of `result` whose best concept is `("part", "interior")` (a row's `"category"` and
# `"concept"`).

# %% [answer interior]
def interior_units(result):
    ### BEGIN SOLUTION
    return {(row["layer"], row["unit"]) for row in result.units
            if row["interpretable"] and (row["category"], row["concept"]) == ("part", "interior")}
    ### END SOLUTION

# %% [tests test_interior_toy points=1]
toy_concepts = [("shape", "circle"), ("part", "interior"), ("colour", "red")]
toy = dissection_of({"a": torch.tensor([[0.02, 0.50, 0.05], [0.01, 0.03, 0.00], [0.06, 0.01, 0.00]]),
                     "b": torch.tensor([[0.00, 0.30, 0.01]])}, toy_concepts)
assert interior_units(toy) == {("a", 0), ("b", 0)}, interior_units(toy)

# %% [tests test_interior_dense points=1]
### BEGIN HIDDEN TESTS
column = found.concepts.index(("part", "interior"))
expected = set()
for layer, table in found.iou.items():
    best, which = table.max(1)
    expected |= {(layer, u) for u in range(len(best)) if which[u] == column and best[u] >= found.iou_threshold}
assert interior_units(found) == expected
### END HIDDEN TESTS

# %% [markdown]
# **Task 4b.** One way to change the rule: leave a category out. Write
# `interpretable_without(result, category)`: the set of `(layer, unit)` whose best IoU over
# the concepts of every **other** category is at least `result.iou_threshold`.
# `result.iou[layer]` holds every unit's IoU with every concept (units × concepts, the columns
# in the order of `result.concepts`, each a `(category, name)` pair).

# %% [answer without]
def interpretable_without(result, category):
    ### BEGIN SOLUTION
    columns = [i for i, (kind, _) in enumerate(result.concepts) if kind != category]
    return {(layer, unit) for layer, table in result.iou.items()
            for unit, best in enumerate(table[:, columns].max(1).values.tolist())
            if best >= result.iou_threshold}
    ### END SOLUTION

# %% [tests test_without_toy points=1]
toy = dissection_of({"a": torch.tensor([[0.02, 0.50, 0.05], [0.01, 0.50, 0.00], [0.06, 0.01, 0.00]])},
                    [("shape", "circle"), ("part", "interior"), ("colour", "red")])
assert interpretable_without(toy, "part") == {("a", 0), ("a", 2)}, interpretable_without(toy, "part")
assert interpretable_without(toy, "colour") == {("a", 0), ("a", 1), ("a", 2)}, interpretable_without(toy, "colour")

# %% [tests test_without_more points=2]
### BEGIN HIDDEN TESTS
toy = dissection_of({"x": torch.tensor([[0.10, 0.90, 0.02], [0.03, 0.04, 0.05]]),
                     "y": torch.tensor([[0.00, 0.00, 0.07]])},
                    [("colour", "red"), ("shape", "square"), ("colour", "blue")], iou_threshold=0.05)
assert interpretable_without(toy, "shape") == {("x", 0), ("x", 1), ("y", 0)}
assert interpretable_without(toy, "colour") == {("x", 0)}
for category in ("part", "colour"):
    keep = torch.tensor([kind != category for kind, _ in found.concepts])
    expected = {(layer, u) for layer, table in found.iou.items()
                for u in range(table.shape[0]) if table[u][keep].max() >= found.iou_threshold}
    assert interpretable_without(found, category) == expected, category
### END HIDDEN TESTS

# %% [markdown]
# **Is IoU enough?** The dense network's units that detect "interior", and how many units stay
# interpretable when the part category is left out.

# %%
{"interior units": sorted(interior_units(found)),
 "interpretable": sum(row["interpretable"] for row in found.units),
 "interpretable without parts": len(interpretable_without(found, "part"))}

# %% [wrong counts breaks=test_counts_thresholds] reads each row's verdict at the dissection's own threshold
def interpretable_counts(result, threshold):
    counts = {}
    for row in result.units:
        counts[row["layer"]] = counts.get(row["layer"], 0) + row["interpretable"]
    return counts

# %% [wrong shuffle_units breaks=test_shuffle_units_rows,test_shuffle_units_seeded] permutes the inputs (dim 1) of each unit instead of the units
def shuffle_units(mask, seed):
    generator = torch.Generator().manual_seed(seed)
    return masks.Mask({name: keep[:, torch.randperm(keep.shape[1], generator=generator)]
                       for name, keep in mask.items()})

# %% [wrong shuffle_units breaks=test_shuffle_units_counts,test_shuffle_units_rows,test_shuffle_units_seeded] shuffles single weights within each layer
def shuffle_units(mask, seed):
    generator = torch.Generator().manual_seed(seed)
    return masks.Mask({name: keep.flatten()[torch.randperm(keep.numel(), generator=generator)].view_as(keep)
                       for name, keep in mask.items()})

# %% [wrong without breaks=test_without_toy,test_without_more] drops every unit whose best concept is in the category
def interpretable_without(result, category):
    return {(row["layer"], row["unit"]) for row in result.units
            if row["interpretable"] and row["category"] != category}
