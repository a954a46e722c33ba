"""What a module may offer the policy beyond its forward pass: a symmetry-breaking regulariser and a gate.

A family's networks are built from modules; the policy sums the penalties of every :class:`Penalised` module in it
and the diagnostics read every :class:`GateReporter`'s :meth:`~GateReporter.gate_value`. Nothing is found by name or ``hasattr``: a module that owns a
regulariser says so by its type.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn


class Penalised:
    """A module with a symmetry-breaking regulariser (mixed into an ``nn.Module``)."""

    def penalty(self, progress: float = 1.0) -> torch.Tensor:
        """The regulariser's value (a scalar tensor). ``progress``: the fraction of training done (for penalties that
        ramp up). A penalty on activations covers the batch of the module's last forward call."""
        raise NotImplementedError


class GateReporter:
    """A module that switches a free (symmetry-breaking) path on per state (mixed into an ``nn.Module``)."""

    def gate_value(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        """(B,) gate in [0, 1] for normalised observation windows {key: (B, To, ...)}: 0 exactly the symmetric
        path, 1 the free path fully on."""
        raise NotImplementedError


class DataSized:
    """A module whose regulariser is a prior whose weight depends on how much data there is (mixed into an
    ``nn.Module``): the policy tells it the number of training episodes when it is fitted to them."""

    def set_training_episodes(self, n: int) -> None:
        """Called with the number of training episodes (>= 1) when the policy's normaliser is fitted."""
        raise NotImplementedError


def modules_of(module: nn.Module, kind: type) -> list[tuple[str, Any]]:
    """(dotted name, module) of every submodule of ``module`` (itself included) that is a ``kind``, in
    ``named_modules`` order.

    Walks the module tree directly: ``named_modules`` de-duplicates through a set, which makes escnn compare its basis
    objects (``__eq__`` over representations, ~1.5 ms per call on a policy)."""
    found: list[tuple[str, Any]] = []

    def walk(m: nn.Module, prefix: str) -> None:
        if isinstance(m, kind):
            found.append((prefix, m))
        for name, child in m._modules.items():
            if child is not None:
                walk(child, f"{prefix}.{name}" if prefix else name)

    walk(module, "")
    return found


__all__ = ["DataSized", "GateReporter", "Penalised", "modules_of"]
