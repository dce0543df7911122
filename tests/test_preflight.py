"""lthkit.preflight: the data and the device a preset names are checked before anything runs."""
import dataclasses

import pytest
import torch

from lthkit import data, hparams, preflight
from lthkit.hparams import resolve


@pytest.fixture
def no_data(tmp_path, monkeypatch):
    monkeypatch.setenv("LTHKIT_DATA", str(tmp_path / "data"))
    return tmp_path / "data"


def _put_mnist(root):
    for name in data.ON_DISK["mnist"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def _gpus(monkeypatch, count):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)


def test_the_default_preset_needs_nothing_on_disk(no_data, monkeypatch):
    _gpus(monkeypatch, 0)
    for chapter in hparams.chapters():
        preflight.check(resolve(chapter))
        assert preflight.problems(resolve(chapter)) == []


def test_the_paper_preset_without_data_or_gpu_names_both(no_data, monkeypatch):
    _gpus(monkeypatch, 0)
    with pytest.raises(preflight.PreflightError) as error:
        preflight.check(resolve("lottery", "paper"))
    message = str(error.value)
    assert "dataset='mnist'" in message and str(no_data) in message
    assert "device='cuda'" in message and "no CUDA device" in message
    assert "-p device cpu" in message
    assert "\n" not in message  # one line on the command line
    assert isinstance(error.value, hparams.ParameterError)


def test_with_the_data_present_only_the_device_is_missing(no_data, monkeypatch):
    _gpus(monkeypatch, 0)
    _put_mnist(no_data)
    found = preflight.problems(resolve("lottery", "paper"))
    assert len(found) == 1 and "device='cuda'" in found[0]
    assert preflight.problems(resolve("lottery", "paper", device="cpu")) == []


def test_with_data_and_a_gpu_the_paper_preset_passes(no_data, monkeypatch):
    _gpus(monkeypatch, 1)
    _put_mnist(no_data)
    preflight.check(resolve("lottery", "paper"))


def test_a_missing_file_is_named(no_data, monkeypatch):
    _put_mnist(no_data)
    (no_data / data.ON_DISK["mnist"][-1]).unlink()
    found = preflight.problems(resolve("lottery", dataset="mnist"))
    assert len(found) == 1 and data.ON_DISK["mnist"][-1] in found[0]


def test_a_device_index_beyond_the_gpus_is_refused(monkeypatch):
    _gpus(monkeypatch, 1)
    assert preflight._device_problem("device", "cuda:0") == []
    assert "only 1 CUDA device" in preflight._device_problem("device", "cuda:1")[0]


def test_every_knob_naming_a_dataset_or_a_device_is_checked():
    """Later chapters add datasets and devices: the knobs that choose them must say so."""
    for chapter, cls in hparams.CHAPTERS.items():
        for f in dataclasses.fields(cls):
            choices = set(f.metadata.get("choices") or [])
            if choices & set(data.NAMES):
                assert f.metadata.get("needs") == "data", f"{chapter}.{f.name}"
            if choices & {"cuda", "mps"}:
                assert f.metadata.get("needs") == "device", f"{chapter}.{f.name}"
