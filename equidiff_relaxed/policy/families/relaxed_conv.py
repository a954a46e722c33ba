"""``relaxed_conv``: the equi family's networks with relaxed group convolutions (Wang, Walters & Yu, ICML 2022) in the
top-down image encoder (:class:`~equidiff_relaxed.nn.relaxed_conv.RelaxedR2Conv`): each convolution keeps L
equivariant filter banks and learnable weights w_l(h) per group element, equal at initialisation (the exact
equivariant encoder), with a quadratic prior on their spread. It is for images whose pixels turn with the task only
approximately (an oblique camera, a fixed robot base in view): the encoder may respond differently to a pattern at
different absolute orientations where the data ask for it. The rest of the networks stay exact."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from equidiff_relaxed.policy.families.base import Family, register


@dataclass(frozen=True)
class RelaxedConvOptions:
    """Options of the relaxed_conv family.

    Args:
        conv_banks: L, the relaxed convolutions' equivariant filter banks.
        conv_alpha: the quadratic prior on the relaxation weights' spread over the group, alpha * sum_l sum_h
            (w_l(h) - mean_h w_l)^2 per convolution.
    """

    conv_banks: int = 2
    conv_alpha: float = 1e-4

    def validate(self) -> None:
        if not isinstance(self.conv_banks, int) or isinstance(self.conv_banks, bool) or self.conv_banks < 1:
            raise ValueError(f"conv_banks must be an integer >= 1, got {self.conv_banks!r}")
        if not isinstance(self.conv_alpha, (int, float)) or not self.conv_alpha >= 0:
            raise ValueError(f"conv_alpha must be a number >= 0, got {self.conv_alpha!r}")


class RelaxedConvFamily(Family):
    options = RelaxedConvOptions
    starts_exact = learns_breaking = group_axis = needs_top_down_images = True

    def build(self, ctx: Any) -> tuple[Any, Any]:
        from equidiff_relaxed.nn.relaxed_conv import RelaxedR2Conv

        meta = ctx.meta
        if not meta.top_down_keys:
            cameras = [k for k in meta.rgb_keys if k not in meta.inhand_keys]
            said = (f": {', '.join(cameras)} {'is' if len(cameras) == 1 else 'are'} declared camera (invariant)"
                    if cameras else "")
            raise ValueError(f"model {self.name!r} relaxes the encoder of images that turn with the task (rep image), "
                             f"and this policy sees none{said}; declare it image in data.obs_reps or pick another "
                             "model")
        o = ctx.options
        conv = functools.partial(RelaxedR2Conv, banks=o.conv_banks, alpha=o.conv_alpha)
        return ctx.group_folded(image_conv=conv)

    def diagnostics(self, policy: Any, samples: dict[int, list[dict[str, Any]]], seed: int = 0) -> dict[str, Any]:
        """The base diagnostics plus ``layer_error_per_region``: per image encoder convolution, the relative
        quarter-turn equivariance error of its output on each region's images."""
        from equidiff_relaxed.policy.diagnostics import image_layer_errors

        found = super().diagnostics(policy, samples, seed)
        found["layer_error_per_region"] = image_layer_errors(policy, samples)
        return found


RELAXED_CONV = register(RelaxedConvFamily(
    "relaxed_conv", "relaxed group convolutions in the image encoder: starts equivariant, learns where to break"))
