"""``plain``: no symmetry — an MLP/CNN encoder and a plain denoiser (the baseline every family is measured against)."""
from __future__ import annotations

from typing import Any

from equidiff_relaxed.policy.families.base import Family, register


class PlainFamily(Family):
    def build(self, ctx: Any) -> tuple[Any, Any]:
        return ctx.plain()


PLAIN = register(PlainFamily("plain", "no symmetry: MLP/CNN encoder and denoiser"))
