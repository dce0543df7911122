"""lthkit.steps: training time written as "500it", "2ep", "1ep20it" and converted exactly."""
import pytest

from lthkit.steps import Step


@pytest.mark.parametrize("text, epochs, its", [
    ("500it", 0, 500),
    ("2ep", 2, 0),
    ("1ep20it", 1, 20),
    ("0it", 0, 0),
    (" 3ep 7it ", 3, 7),
    (125, 0, 125),
    (0, 0, 0),
])
def test_parse_reads_epochs_and_iterations(text, epochs, its):
    step = Step.parse(text)
    assert (step.epochs, step.its) == (epochs, its)


def test_parse_passes_a_step_through():
    step = Step(2, 3)
    assert Step.parse(step) is step


@pytest.mark.parametrize("bad", ["", "500", "it", "ep", "2it1ep", "1.5ep", "-3it", "3 iterations",
                                 "10its", "2epochs", None, 1.5, True, [3], -4])
def test_bad_input_raises_a_helpful_error(bad):
    with pytest.raises(ValueError) as error:
        Step.parse(bad)
    message = str(error.value)
    if bad != -4:  # a negative int is rejected by the Step itself
        assert repr(bad) in message
        assert "500it" in message and "1ep20it" in message  # shows what to write instead


def test_negative_parts_are_rejected():
    with pytest.raises(ValueError, match="negative"):
        Step(-1, 0)
    with pytest.raises(ValueError, match="negative"):
        Step(0, -1)


@pytest.mark.parametrize("text, per_epoch", [("2ep", 59), ("1ep20it", 67), ("500it", 7),
                                              ("3ep5it", 1), ("0it", 10)])
def test_iterations_are_epochs_times_length_plus_iterations(text, per_epoch):
    step = Step.parse(text)
    assert step.iterations(per_epoch) == step.epochs * per_epoch + step.its
    assert isinstance(step.iterations(per_epoch), int)


def test_iterations_need_a_positive_epoch_length():
    with pytest.raises(ValueError, match="iterations_per_epoch"):
        Step.parse("2ep").iterations(0)


@pytest.mark.parametrize("per_epoch", [1, 7, 59, 67])
def test_from_iterations_round_trips(per_epoch):
    for iteration in range(0, 5 * per_epoch + 3, max(1, per_epoch // 3)):
        step = Step.from_iterations(iteration, per_epoch)
        assert step.iterations(per_epoch) == iteration
        assert 0 <= step.its < per_epoch  # normalised: whole epochs are counted as epochs
        assert Step.parse(str(step)) == step


def test_str_is_the_canonical_spelling():
    assert str(Step(0, 500)) == "500it"
    assert str(Step(2, 0)) == "2ep"
    assert str(Step(1, 20)) == "1ep20it"
    assert str(Step()) == "0it"


def test_steps_are_values():
    assert Step.parse("1ep20it") == Step(1, 20)
    assert Step.parse("60it") != Step.parse("1ep")  # equal only once an epoch length says so
    assert len({Step.parse("2ep"), Step(2, 0)}) == 1
    with pytest.raises(Exception):
        Step(1, 2).epochs = 3  # frozen
