"""lthkit.hparams: presets, overrides, and errors that name the parameter and what is allowed."""
import dataclasses
import math
import typing

import pytest

from lthkit import hparams
from lthkit.hparams import Lottery, ParameterError, resolve


def _error(**overrides):
    preset = overrides.pop("preset", "default")
    chapter = overrides.pop("chapter", "lottery")
    with pytest.raises(ParameterError) as error:
        resolve(chapter, preset, **overrides)
    return str(error.value)


def test_default_preset_is_the_dataclass_defaults():
    hp = resolve("lottery")
    assert isinstance(hp, Lottery) and hp == Lottery()
    assert hp.preset == "default" and hp.dataset == "mnist5k"


def test_paper_preset_names_the_papers_setup():
    paper, default = resolve("lottery", "paper"), resolve("lottery")
    assert paper.preset == "paper" and paper.dataset == "mnist"
    for name, value in hparams.PRESETS["lottery"]["paper"].items():
        assert getattr(paper, name) == value
    changed = {f.name for f in dataclasses.fields(Lottery)
               if getattr(paper, f.name) != getattr(default, f.name)}
    assert changed == set(hparams.PRESETS["lottery"]["paper"]) | {"preset"}


def test_chapters_and_presets_are_listed():
    assert "lottery" in hparams.chapters()
    assert hparams.presets("lottery")[:2] == ["default", "paper"]


def test_overrides_replace_the_preset_values():
    hp = resolve("lottery", "paper", seeds=2, lr=3e-3, xor_hidden=(3, 5), rewind_step="1ep20it")
    assert hp.seeds == 2 and hp.lr == 3e-3 and hp.xor_hidden == [3, 5]
    assert hp.rewind_step == "1ep20it"
    assert hp.dataset == "mnist"  # the rest is still the preset's


def test_none_means_the_presets_value():
    assert resolve("lottery", "paper", dataset=None, seeds=None) == resolve("lottery", "paper")
    assert resolve("lottery", dataset=None).dataset == "mnist5k"


def test_an_int_is_accepted_for_a_float():
    hp = resolve("lottery", lr=1)
    assert hp.lr == 1.0 and isinstance(hp.lr, float)


def test_seed_list_counts_from_first_seed():
    assert resolve("lottery", seeds=3, first_seed=10).seed_list == [10, 11, 12]


def test_resolved_values_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolve("lottery").seeds = 4


# --- bad values stop here, with a message that says what is allowed ----------------------------

def test_unknown_parameter_names_it_and_lists_the_allowed():
    message = _error(learning_rate=0.1)
    assert "learning_rate" in message
    for name in ("seeds", "lr", "train_steps", "rewind_step", "prune_rate"):
        assert name in message
    assert "preset," not in message  # preset is an argument, not a knob


def test_several_unknown_parameters_are_all_named():
    message = _error(foo=1, bar=2)
    assert "bar" in message and "foo" in message


@pytest.mark.parametrize("name, value, kind", [
    ("seeds", "three", "int"), ("seeds", 2.5, "int"), ("seeds", True, "int"),
    ("lr", "fast", "float"), ("dataset", 5, "str"),
])
def test_wrong_type_names_the_parameter_and_the_type(name, value, kind):
    message = _error(**{name: value})
    assert name in message and kind in message and repr(value) in message


@pytest.mark.parametrize("name, value, low, high", [
    ("seeds", 0, 1, 100), ("seeds", 101, 1, 100), ("lr", 0.0, 1e-7, 10.0),
    ("prune_rate", 1.0, 0.0, 0.99), ("output_prune_rate", -0.1, 0.0, 0.99),
    ("rounds", 61, 0, 60), ("xor_iterations", 0, 1, 1_000_000), ("lr", math.inf, 1e-7, 10.0),
])
def test_out_of_range_names_the_parameter_and_the_bounds(name, value, low, high):
    message = _error(**{name: value})
    assert name in message and str(low) in message and str(high) in message


def test_a_lower_bound_alone_is_stated():
    with pytest.raises(ParameterError, match="n=0 is out of range; allowed: at least 1"):
        hparams._scalar("n", 0, int, {"low": 1})


def test_nan_is_out_of_range():
    message = _error(lr=math.nan)
    assert "lr" in message


def test_a_ticket_must_keep_fewer_units_than_the_network_it_is_pruned_from():
    message = _error(xor_large=4, xor_ticket_units=[2, 4])
    assert "xor_ticket_units" in message and "xor_large" in message


@pytest.mark.parametrize("name, value, allowed", [
    ("dataset", "cifar10", ["mnist5k", "mnist"]),
    ("optimizer", "rmsprop", ["adam", "sgd"]),
    ("model", "conv2", ["lenet_300_100"]),
])
def test_bad_choice_names_the_parameter_and_the_choices(name, value, allowed):
    message = _error(**{name: value})
    assert name in message and repr(value) in message
    assert all(repr(choice) in message for choice in allowed)


@pytest.mark.parametrize("name", ["train_steps", "eval_every", "rewind_step"])
def test_bad_step_names_the_parameter_and_shows_the_format(name):
    message = _error(**{name: "5 epochs"})
    assert name in message and "'5 epochs'" in message
    assert "500it" in message and "1ep20it" in message


@pytest.mark.parametrize("name", ["train_steps", "eval_every", "rewind_step"])
def test_a_bare_number_for_a_step_suggests_the_units(name):
    message = _error(**{name: 20})
    assert name in message and "'20it'" in message and "'20ep'" in message


@pytest.mark.parametrize("value", [2.5, True, [20]])
def test_a_step_of_another_type_shows_the_format(value):
    message = _error(train_steps=value)
    assert "train_steps" in message and "'500it'" in message and repr(value) in message


@pytest.mark.parametrize("name", ["train_steps", "eval_every", "rewind_step"])
@pytest.mark.parametrize("value", ["100000000it", "1001ep", "5ep1000001it"])
def test_steps_have_an_upper_bound_stated_in_the_message(name, value):
    message = _error(**{name: value})
    assert name in message and repr(value) in message
    assert "1000000 iterations" in message and "1000 epochs" in message


def test_the_step_bounds_admit_the_papers_and_their_own_limits():
    hp = resolve("lottery", "paper", train_steps="1000ep1000000it", rewind_step="1000ep")
    assert hp.train_steps == "1000ep1000000it" and hp.eval_every == "100it"


def test_every_number_and_step_a_chapter_accepts_has_an_upper_bound():
    """Chapters 2-5 will add knobs: none may accept, say, a hundred million iterations."""
    for chapter in hparams.chapters():
        types = typing.get_type_hints(hparams.CHAPTERS[chapter])
        for f in dataclasses.fields(hparams.CHAPTERS[chapter]):
            numeric = types[f.name] in (int, float, list) or f.metadata.get("step")
            if numeric and not f.metadata.get("choices"):
                assert f.metadata.get("high") is not None, f"{chapter}.{f.name}: no upper bound"


@pytest.mark.parametrize("value, fragment", [([], "non-empty list"), (4, "non-empty list"),
                                             ([2, 0], "xor_hidden[1]"), ([2, "4"], "xor_hidden[1]"),
                                             ([2, 1001], "xor_hidden[1]")])
def test_bad_lists_name_the_element(value, fragment):
    message = _error(xor_hidden=value)
    assert "xor_hidden" in message and fragment in message


def test_bad_preset_names_it_and_lists_the_presets():
    message = _error(preset="gpu")
    assert "'gpu'" in message and "preset" in message
    assert "default" in message and "paper" in message


def test_unknown_chapter_names_it_and_lists_the_chapters():
    message = _error(chapter="stability")
    assert "'stability'" in message and "lottery" in message
    with pytest.raises(ParameterError, match="stability"):
        hparams.presets("stability")


def test_parameter_errors_are_value_errors():
    assert issubclass(ParameterError, ValueError)


def test_every_preset_resolves():
    for chapter in hparams.chapters():
        for preset in hparams.presets(chapter):
            assert resolve(chapter, preset).preset == preset


# --- presentation ------------------------------------------------------------------------------

def test_table_marks_overrides():
    hp = resolve("lottery", "paper", seeds=2, lr=5e-3)
    table = hparams.table(hp)
    assert list(table.columns) == ["parameter", "value", "source", "meaning"]
    assert list(table["parameter"]) == [f.name for f in dataclasses.fields(Lottery)]
    source = dict(zip(table["parameter"], table["source"]))
    assert {name for name, where in source.items() if where == "override"} == {"seeds", "lr"}
    values = dict(zip(table["parameter"], table["value"]))
    assert values["seeds"] == "2" and values["dataset"] == "mnist" and values["preset"] == "paper"
    meaning = dict(zip(table["parameter"], table["meaning"]))
    assert meaning["rewind_step"]  # knobs explain themselves


def test_table_of_a_plain_preset_has_no_overrides():
    table = hparams.table(resolve("lottery", "paper"))
    assert set(table["source"]) == {"preset"}


def test_to_dict_is_plain_data():
    values = hparams.to_dict(resolve("lottery", seeds=4))
    assert values["seeds"] == 4 and values["preset"] == "default"
    assert isinstance(values["xor_hidden"], list)


def test_early_phase_refuses_rewinding_at_or_after_the_end_of_training():
    assert resolve("early_phase", train_steps="500it", rewind_step="499it").rewind_step == "499it"
    with pytest.raises(ParameterError, match="rewind_step='500it'.*leaves nothing to train"):
        resolve("early_phase", train_steps="500it", rewind_step="500it")
    with pytest.raises(ParameterError, match="rewind_sweep"):
        resolve("early_phase", train_steps="500it", rewind_sweep=[0, 600])
    # an epoch is the training set over the batch size: 20,000 scenes in batches of 64
    with pytest.raises(ParameterError, match="313 iterations"):
        resolve("early_phase", train_steps="1ep", batch_size=64, rewind_sweep=[0, 313])
