"""The networks a family builds from: everything a family's :meth:`~equidiff_relaxed.policy.families.Family.build`
needs to know (the options, the fields its networks see, the group) and the two stock constructions it composes —
plain networks, and group-folded networks with a given kind of group-linear layer.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from equidiff_relaxed.data.shape_meta import FieldMeta, ShapeMeta
from equidiff_relaxed.nn.denoisers import EquivariantDenoiser, PlainDenoiser
from equidiff_relaxed.nn.encoders import EquivariantObsEncoder, PlainObsEncoder
from equidiff_relaxed.nn.group_linear import EquivariantLinear, LayerFactory
from equidiff_relaxed.nn.image_resnet import RESNET_SIDE
from equidiff_relaxed.nn.r2conv import R2Conv
from equidiff_relaxed.nn.relaxed_conv import ConvFactory
from equidiff_relaxed.nn.mlp_denoiser import EquivariantMLPDenoiser, PlainMLPDenoiser
from equidiff_relaxed.symmetry.group import SymmetryGroup


@dataclass
class BuildContext:
    """What a family builds for.

    ``config``: the policy's :class:`~equidiff_relaxed.policy.config.PolicyConfig` (the common options);
    ``options``: the family's own options (its dataclass); ``meta``: the observation fields the networks see (the
    dataset's, plus the family's fixed inputs); ``action``: the action field as the networks see it (a vec2
    displacement with relative actions); ``group``: the policy's group (C_N or D_N); ``action_dim``: A.
    """

    config: Any
    options: Any
    meta: ShapeMeta
    action: FieldMeta
    group: SymmetryGroup
    action_dim: int

    def check_image_crop(self) -> None:
        """ValueError for a crop larger than an image."""
        cfg, meta = self.config, self.meta
        for k in meta.rgb_keys:
            h, w = meta.obs[k].shape[1:]
            if cfg.image_crop is not None and cfg.image_crop > min(h, w):
                raise ValueError(f"model.image_crop {cfg.image_crop} is larger than {k}'s {h}x{w} images")

    def check_top_down_sides(self) -> None:
        """ValueError for top-down images (rep image) the equivariant encoder cannot turn exactly: not square, or a
        side (after the crop) that is not a multiple of 4 (it halves the resolution twice, and every stage must keep
        an even side for quarter turns to stay exact)."""
        cfg, meta = self.config, self.meta
        for k in meta.top_down_keys:
            h, w = meta.obs[k].shape[1:]
            if h != w:
                raise ValueError(f"{k}: top-down images (rep image) must be square to turn with the task, got {h}x{w}")
            side = cfg.image_crop or h
            what = f"model.image_crop {side}" if cfg.image_crop else f"{k}'s side {side}"
            if cfg.image_encoder == "resnet" and side != RESNET_SIDE:
                raise ValueError(f"{what}: the resnet image encoder (EquiDiff's design) takes {RESNET_SIDE} px images "
                                 f"(e.g. model.image_crop {RESNET_SIDE} on 84 px images)")
            if side % 4:
                raise ValueError(f"{what}: the equivariant image encoder halves the resolution twice, so the side it "
                                 f"sees must be a multiple of 4 (e.g. {side - side % 4})")

    def plain(self) -> tuple[nn.Module, nn.Module]:
        """Plain encoder (B, encoder_dim) and denoiser (1D U-Net or MLP): no group axis."""
        self.check_image_crop()
        cfg, meta = self.config, self.meta
        encoder: nn.Module = PlainObsEncoder(meta, cfg.n_obs_steps, cfg.encoder_hidden, cfg.encoder_dim,
                                             layers=cfg.encoder_layers, image_crop=cfg.image_crop,
                                             keypoints=cfg.inhand_keypoints, image_width=cfg.image_width)
        if cfg.denoiser == "mlp":
            return encoder, PlainMLPDenoiser(self.action_dim, cfg.horizon, cfg.encoder_dim, cfg.denoiser_width,
                                             cfg.denoiser_depth)
        return encoder, PlainDenoiser(self.action_dim, cfg.encoder_dim, tuple(cfg.down_dims), cfg.kernel_size,
                                      cfg.n_groups)

    def group_folded(self, encoder_layer: LayerFactory = EquivariantLinear,
                     denoiser_layer: LayerFactory = EquivariantLinear,
                     image_conv: ConvFactory = R2Conv) -> tuple[nn.Module, nn.Module]:
        """The group-folded encoder (B, encoder_fields, |G|) and denoiser (EquiDiff's folding around one shared
        U-Net or MLP), their group-linear layers of the given kinds and the top-down image encoder's convolutions
        of kind ``image_conv``."""
        self.check_image_crop()
        self.check_top_down_sides()
        cfg, meta, group = self.config, self.meta, self.group
        encoder = EquivariantObsEncoder(meta, cfg.n_obs_steps, group, 4 * cfg.encoder_fields, cfg.encoder_fields,
                                        layer=encoder_layer, layers=cfg.encoder_layers, image_crop=cfg.image_crop,
                                        keypoints=cfg.inhand_keypoints, image_downsample=cfg.image_downsample,
                                        image_fields=cfg.image_fields, image_conv=image_conv,
                                        image_width=cfg.image_width, image_encoder=cfg.image_encoder)
        if cfg.denoiser == "mlp":
            return encoder, EquivariantMLPDenoiser(self.action, cfg.horizon, cfg.encoder_fields, group,
                                                   cfg.lift_fields, cfg.denoiser_width, cfg.denoiser_depth,
                                                   layer=denoiser_layer)
        return encoder, EquivariantDenoiser(self.action, cfg.encoder_fields, group, cfg.lift_fields,
                                            tuple(cfg.down_dims), cfg.kernel_size, cfg.n_groups, layer=denoiser_layer)

    def require_symmetric_normalizer(self, what: str) -> None:
        """ValueError unless positions are normalised about the symmetry centre (rotations act in normalised space)."""
        if self.config.normalizer_mode != "symmetric":
            raise ValueError(f"the {what} family needs normalizer_mode symmetric (positions centred on the "
                             "symmetry centre, so that it rotates in normalised space)")


def where_layers(where: str, kind: LayerFactory) -> tuple[LayerFactory, LayerFactory]:
    """(encoder layer, denoiser layer) for ``relax_where``: ``kind`` in the parts it names, exact elsewhere."""
    return (kind if where in ("all", "encoder") else EquivariantLinear,
            kind if where in ("all", "denoiser") else EquivariantLinear)


__all__ = ["BuildContext", "where_layers"]
