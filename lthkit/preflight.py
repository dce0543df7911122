"""Before any computing: is what the parameters name present on this machine? ::

    hp = hparams.resolve("lottery", preset="paper")
    preflight.check(hp)     # PreflightError: mnist not under $LTHKIT_DATA; no CUDA device

A chapter's knobs say what they need (``hparams._knob(needs=...)``): ``"data"``, a dataset whose
files must be on disk (``data.require``; embedded and generated sets need none), and
``"device"``, a device torch must see. ``lthkit run`` checks before papermill starts, and each
chapter notebook calls ``check`` right after ``hparams.resolve``, so a run started from Jupyter or
papermill fails at once too, not after an hour of other work.
"""
from __future__ import annotations

import dataclasses

from .hparams import ParameterError


class PreflightError(ParameterError):
    """Parameters that are valid but name data or a device this machine does not have."""


def problems(hp) -> list[str]:
    """A sentence for each thing ``hp`` needs and this machine lacks (empty: all present)."""
    found = []
    for f in dataclasses.fields(hp):
        needs, value = f.metadata.get("needs"), getattr(hp, f.name)
        if needs == "data":
            found += _data_problem(f.name, value)
        elif needs == "device":
            found += _device_problem(f.name, value)
    return found


def check(hp) -> None:
    """Raise ``PreflightError`` (a ``ParameterError``) naming every missing dataset and device."""
    found = problems(hp)
    if found:
        raise PreflightError(" ".join(found))


def _data_problem(knob: str, name: str) -> list[str]:
    from . import data

    try:
        data.require(name)
    except FileNotFoundError as error:
        return [f"{knob}={name!r}: {error}"]
    return []


def _device_problem(knob: str, device: str) -> list[str]:
    kind, _, index = str(device).partition(":")
    if kind == "cpu":
        return []
    import torch  # only now: importing torch costs seconds, and the CPU needs no check

    if kind == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count > int(index or 0):
            return []
        seen = f"only {count} CUDA device(s)" if count else "no CUDA device"
    elif kind == "mps":
        if torch.backends.mps.is_available():
            return []
        seen = "no MPS device"
    else:
        seen = "no such device"
    return [f"{knob}={device!r}, but torch {torch.__version__} sees {seen} on this machine; "
            f"run where there is one, or train on the CPU with {knob}='cpu' "
            f"(lthkit run: -p {knob} cpu)."]
