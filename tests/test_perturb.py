"""lthkit.perturb: each perturbation of the rewound weights has its defining property exactly,
leaves its inputs and the mask alone, and draws only from its perturb_seed."""
import pytest
import torch

from lthkit import perturb
from lthkit.masks import Mask

SEED = 7


@pytest.fixture
def net():
    """Rewound weights W_k of two layers (a conv and a linear one) and a bias, the initial
    weights W_0 they came from, and a mask keeping about half of each layer."""
    g = torch.Generator().manual_seed(0)
    initial = {"conv.weight": torch.randn(32, 16, 3, 3, generator=g) * 0.1,
               "fc.weight": torch.randn(10, 400, generator=g) * 0.05,
               "fc.bias": torch.zeros(10)}
    rewound = {k: v + 0.02 * torch.randn(v.shape, generator=g) for k, v in initial.items()}
    mask = Mask({k: torch.rand(initial[k].shape, generator=g) < 0.5
                 for k in ("conv.weight", "fc.weight")})
    return initial, rewound, mask


def _unchanged(before, after):
    return all(torch.equal(before[k], after[k]) for k in before)


def test_init_std_is_each_layers_std_at_iteration_zero(net):
    initial, _, mask = net
    std = perturb.init_std(initial, mask)
    assert set(std) == set(mask)
    for name in mask:
        assert std[name] == pytest.approx(float(initial[name].double().std()), rel=1e-12)


@pytest.mark.parametrize("kind, scale", [(k, 0.5 if k == "noise" else None)
                                         for k in perturb.KINDS])
def test_every_kind_keeps_the_mask_and_the_other_tensors_and_changes_no_input(net, kind, scale):
    initial, rewound, mask = net
    saved = {k: v.clone() for k, v in rewound.items()}
    saved_mask = {k: v.clone() for k, v in mask.items()}
    out = perturb.perturb(kind, rewound, mask, perturb.init_std(initial, mask), SEED, scale)
    assert _unchanged(saved, rewound) and _unchanged(saved_mask, mask)
    assert set(out) == set(rewound)
    assert torch.equal(out["fc.bias"], rewound["fc.bias"])
    for name, keep in mask.items():
        assert torch.all(out[name][~keep] == 0), "pruned positions stay exactly zero"
        assert not torch.equal(out[name][keep], rewound[name][keep]), "survivors changed"
        assert torch.all(out[name][keep] != 0)


@pytest.mark.parametrize("kind, scale", [(k, 0.5 if k == "noise" else None)
                                         for k in perturb.KINDS])
def test_the_seed_alone_fixes_the_draw(net, kind, scale):
    initial, rewound, mask = net
    std = perturb.init_std(initial, mask)
    a = perturb.perturb(kind, rewound, mask, std, SEED, scale)
    b = perturb.perturb(kind, rewound, mask, std, SEED, scale)
    c = perturb.perturb(kind, rewound, mask, std, SEED + 1, scale)
    assert _unchanged(a, b)
    assert not torch.equal(a["fc.weight"], c["fc.weight"])


def test_reinit_ignores_the_rewound_weights_and_has_each_layers_initial_spread(net):
    initial, rewound, mask = net
    std = perturb.init_std(initial, mask)
    out = perturb.reinit(rewound, mask, std, SEED)
    other = perturb.reinit({k: -3 * v for k, v in rewound.items()}, mask, std, SEED)
    for name, keep in mask.items():
        assert torch.equal(out[name], other[name]), "fresh values do not depend on W_k"
        spread = float(out[name][keep].std())
        # ≥ 2,300 survivors per layer: the sample std is within 5% of the std drawn with.
        assert spread == pytest.approx(std[name], rel=0.05)
        assert abs(float(out[name][keep].mean())) < 4 * std[name] / keep.sum() ** 0.5


def test_sign_keeping_reinit_has_exactly_the_rewound_signs_and_fresh_magnitudes(net):
    initial, rewound, mask = net
    std = perturb.init_std(initial, mask)
    out = perturb.reinit_keep_signs(rewound, mask, std, SEED)
    fresh = perturb.reinit(rewound, mask, std, SEED)
    for name, keep in mask.items():
        assert torch.equal(torch.sign(out[name][keep]), torch.sign(rewound[name][keep]))
        assert torch.equal(out[name].abs(), fresh[name].abs())


def test_shuffle_is_a_permutation_of_each_layers_survivors(net):
    _, rewound, mask = net
    out = perturb.shuffle(rewound, mask, SEED)
    for name, keep in mask.items():
        before, after = rewound[name][keep], out[name][keep]
        assert torch.equal(torch.sort(after).values, torch.sort(before).values)
        moved = float((after != before).double().mean())
        assert moved > 0.99, f"{name}: only {moved:.1%} of the survivors moved"


def test_sign_keeping_shuffle_permutes_magnitudes_and_keeps_every_sign(net):
    _, rewound, mask = net
    out = perturb.shuffle_keep_signs(rewound, mask, SEED)
    for name, keep in mask.items():
        before, after = rewound[name][keep], out[name][keep]
        assert torch.equal(torch.sign(after), torch.sign(before))
        assert torch.equal(torch.sort(after.abs()).values, torch.sort(before.abs()).values)
        assert float((after != before).double().mean()) > 0.99


def test_noise_has_the_stated_scale_in_every_layer(net):
    initial, rewound, mask = net
    std = perturb.init_std(initial, mask)
    for scale in (0.25, 1.0, 2.0):
        out = perturb.add_noise(rewound, mask, std, scale, SEED)
        for name, keep in mask.items():
            noise = (out[name] - rewound[name])[keep]
            assert float(noise.std()) == pytest.approx(scale * std[name], rel=0.05)


def test_noise_scales_one_draw_linearly_and_is_nothing_at_scale_zero(net):
    initial, rewound, mask = net
    std = perturb.init_std(initial, mask)
    half = perturb.add_noise(rewound, mask, std, 0.5, SEED)
    triple = perturb.add_noise(rewound, mask, std, 3.0, SEED)
    zero = perturb.add_noise(rewound, mask, std, 0.0, SEED)
    for name, keep in mask.items():
        torch.testing.assert_close((triple[name] - rewound[name])[keep],
                                   6 * (half[name] - rewound[name])[keep])
        assert torch.equal(zero[name], rewound[name] * keep)


def test_bad_requests_are_refused(net):
    initial, rewound, mask = net
    std = perturb.init_std(initial, mask)
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb.perturb("flip", rewound, mask, std, SEED)
    with pytest.raises(ValueError, match="needs a scale"):
        perturb.perturb("noise", rewound, mask, std, SEED)
    with pytest.raises(ValueError, match="takes no scale"):
        perturb.perturb("shuffle", rewound, mask, std, SEED, scale=1.0)
    with pytest.raises(ValueError, match="initial std"):
        perturb.perturb("reinit", rewound, mask, None, SEED)
    with pytest.raises(ValueError, match="≥ 0"):
        perturb.add_noise(rewound, mask, std, -1.0, SEED)
    with pytest.raises(KeyError, match="does not hold"):
        perturb.shuffle({"fc.weight": rewound["fc.weight"]}, mask, SEED)
    bad = Mask({"fc.weight": torch.ones(3, 3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="shape"):
        perturb.shuffle(rewound, bad, SEED)


# --- training perturbed tickets ------------------------------------------------------------------

def test_a_perturbed_ticket_trains_like_the_ticket_from_its_perturbed_weights(tmp_path,
                                                                              monkeypatch):
    from lthkit import data, engine, lottery, models
    from lthkit.train import Config

    monkeypatch.setenv("LTHKIT_STORE", str(tmp_path))
    g = torch.Generator().manual_seed(0)
    images = data.Dataset("tiny", torch.randn(80, 3, 8, 8, generator=g), torch.arange(80) % 10,
                          torch.randn(30, 3, 8, 8, generator=g), torch.arange(30) % 10,
                          num_classes=10, augment=True).split_validation(20)
    config = Config(optimizer="sgd", lr=0.05, momentum=0.9, batch_size=16, train_steps="8it",
                    eval_every="4it")
    experiment = lottery.Experiment(model="conv2_4", dataset="tiny", train=config, rounds=1,
                                    prune_rate=0.5, output_prune_rate=None, rewind_step="2it",
                                    controls=())
    tickets = [r for r in lottery.imp_seeds(experiment, images, [4], states=True)
               if r["round"] == 1]
    variants = [perturb.Variant("shuffle_signs"), perturb.Variant("noise", 0.5)]
    rows = perturb.train_perturbed(experiment, images, tickets, variants, perturb_seed=100)
    assert [(r["variant"], r["seed"], r["round"]) for r in rows] == \
        [("shuffle_signs", 4, 1), ("noise 0.5σ", 4, 1)]
    ticket = tickets[0]
    std = perturb.init_std(models.for_data("conv2_4", 4, images).state_dict(), ticket["mask"])
    state = perturb.add_noise(ticket["rewind_state"], ticket["mask"], std, 0.5, 104)
    by_hand = engine.fit(engine.Run("conv2_4", images, config, order_seed=4, state=state,
                                    mask=ticket["mask"], start=2))
    assert rows[1]["early_stop_test_acc"] == by_hand.early_stop_test_acc
    assert rows[1]["iterations"] == 6 == by_hand.iterations
    monkeypatch.setattr(engine, "fit", lambda *a, **k: pytest.fail("trained again"))
    again = perturb.train_perturbed(experiment, images, tickets, variants, perturb_seed=100)
    assert [r["early_stop_test_acc"] for r in again] == [r["early_stop_test_acc"] for r in rows]


def test_a_variant_is_checked_when_it_is_made():
    assert perturb.Variant("noise", 2.0).name == "noise 2σ"
    with pytest.raises(ValueError, match="only noise"):
        perturb.Variant("noise")
    with pytest.raises(ValueError, match="only noise"):
        perturb.Variant("reinit", 1.0)
    with pytest.raises(ValueError, match="unknown"):
        perturb.Variant("flip")
