"""Observation encoders: plain (MLP + CNN) and G-equivariant for the task group G = C_N or D_N (irreps -> regular
fields; top-down images via R2Conv, C_N only).

Input: dict key -> normalised observation window, low-dim (B, To, D), images (B, To, C, H, W) in [0, 1].
Output: plain encoders (B, out_dim); equivariant encoders (B, out_fields, |G|) regular fields (entry h is the
feature seen by group copy h). Which keys exist and how they transform is read from shape_meta.
"""
from __future__ import annotations


import torch
from torch import nn

from equidiff_relaxed._escnn import enn, gspaces

from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.nn.fields import IrrepLayout
from equidiff_relaxed.nn.group_linear import EquivariantLinear, LayerFactory
from equidiff_relaxed.nn.image_resnet import EquivariantResNet
from equidiff_relaxed.nn.r2conv import R2Conv
from equidiff_relaxed.nn.relaxed_conv import ConvFactory
from equidiff_relaxed.symmetry.group import SymmetryGroup


def _mlp(dims: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), nn.Mish()]
    return nn.Sequential(*layers[:-1])


def crop(x: torch.Tensor, size: tuple[int, int], training: bool,
         generator: torch.Generator | None = None) -> torch.Tensor:
    """(..., H, W) -> (..., h, w): a random window while training (one offset per call), the centre one otherwise
    (symmetric about the image centre when H - h and W - w are even, so quarter turns commute with it)."""
    (h_in, w_in), (h, w) = x.shape[-2:], size
    if (h, w) == (h_in, w_in):
        return x
    if training:
        i = int(torch.randint(0, h_in - h + 1, (1,), generator=generator))
        j = int(torch.randint(0, w_in - w + 1, (1,), generator=generator))
    else:
        i, j = (h_in - h) // 2, (w_in - w) // 2
    return x[..., i : i + h, j : j + w]


def crop_size(shape: tuple[int, int], crop_ratio: float, crop_px: int | None) -> tuple[int, int]:
    """The crop window: ``crop_px`` square when given, else ``crop_ratio`` of each side."""
    if crop_px is not None:
        return crop_px, crop_px
    return int(shape[0] * crop_ratio), int(shape[1] * crop_ratio)


class SpatialSoftmax(nn.Module):
    """Keypoints from feature maps (robomimic's spatial softmax): (N, C, H, W) -> (N, 2 K), the expected (x, y) in
    [-1, 1] of a softmax over each of K learned maps. Coordinates in the image's own frame: for an eye-in-hand
    camera, invariant under the task's rotations."""

    def __init__(self, channels: int, keypoints: int):
        super().__init__()
        self.maps = nn.Conv2d(channels, keypoints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.maps(x)
        n, k, h, w = logits.shape
        prob = torch.softmax(logits.reshape(n, k, h * w), dim=-1).reshape(n, k, h, w)
        ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
        return torch.cat([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], dim=-1)


class PlainImageNet(nn.Module):
    """Small ResNet-style CNN with GroupNorm; random crop (train) / centre crop (eval). (N, C, H, W) -> (N, out).
    ``keypoints``: pool by a spatial softmax over that many maps (EquiDiff's eye-in-hand encoder) instead of a global
    average. ``crop_px``: the crop's side in pixels (default ``crop_ratio`` of each side). Runs channels-last (same maths,
    ~1.15x faster CPU convolutions)."""

    def __init__(self, channels: int, out_dim: int, width: int = 32, crop_ratio: float = 0.9,
                 crop_px: int | None = None, keypoints: int | None = None):
        super().__init__()
        self.crop_ratio, self.crop_px = crop_ratio, crop_px

        def block(a: int, b: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(a, b, 3, 2, 1), nn.GroupNorm(8, b), nn.ReLU(),
                                 nn.Conv2d(b, b, 3, 1, 1), nn.GroupNorm(8, b), nn.ReLU())

        pool: list[nn.Module] = ([SpatialSoftmax(2 * width, keypoints), nn.Linear(2 * keypoints, out_dim)]
                                 if keypoints else [nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                                    nn.Linear(2 * width, out_dim)])
        self.net = nn.Sequential(block(channels, width), block(width, 2 * width), block(2 * width, 2 * width), *pool)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        size = crop_size(tuple(x.shape[-2:]), self.crop_ratio, self.crop_px)
        x = crop(x, size, self.training and (self.crop_px is not None or self.crop_ratio < 1), generator)
        return self.net(x.contiguous(memory_format=torch.channels_last))


def image_net(meta: ShapeMeta, key: str, out_dim: int, crop_px: int | None, keypoints: int,
              width: int = 32) -> PlainImageNet:
    """The plain CNN for rgb field ``key``: spatial-softmax keypoints for eye-in-hand cameras (32 channels), average
    pooling and ``width`` channels otherwise."""
    inhand = key in meta.inhand_keys
    return PlainImageNet(meta.obs[key].shape[0], out_dim, width=32 if inhand else width, crop_px=crop_px,
                         keypoints=keypoints if inhand else None)


class PlainObsEncoder(nn.Module):
    """Low-dim windows (flattened) and CNN image features -> MLP with ``layers`` hidden layers -> (B, out_dim).
    ``image_width``: the channels of the CNNs of images other than eye-in-hand ones (the first stage's; the later
    ones have twice as many)."""

    def __init__(self, shape_meta: ShapeMeta, n_obs_steps: int, hidden: int = 256, out_dim: int = 128,
                 image_features: int = 64, layers: int = 1, image_crop: int | None = None, keypoints: int = 32,
                 image_width: int = 32):
        super().__init__()
        self.meta, self.n_obs_steps = shape_meta, n_obs_steps
        self.low_dim_keys, self.rgb_keys = shape_meta.low_dim_keys, shape_meta.rgb_keys
        self.images = nn.ModuleDict({k: image_net(shape_meta, k, image_features, image_crop, keypoints, image_width)
                                     for k in self.rgb_keys})
        in_dim = n_obs_steps * (sum(shape_meta.obs[k].shape[0] for k in self.low_dim_keys)
                                + image_features * len(self.rgb_keys))
        self.mlp = _mlp([in_dim, *[hidden] * layers, out_dim])  # ``layers`` hidden layers
        self.out_dim = out_dim

    def inputs(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        """(B, in_dim): the flattened low-dim windows and the image features, what the MLP takes."""
        b = next(iter(obs.values())).shape[0]
        parts = [obs[k].reshape(b, -1) for k in self.low_dim_keys]
        for k in self.rgb_keys:
            x = obs[k]
            parts.append(self.images[k](x.reshape(-1, *x.shape[2:]), generator).reshape(b, -1))
        return torch.cat(parts, dim=-1)

    def forward(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        return self.mlp(self.inputs(obs, generator))


def stride2_kernel(side: int) -> int:
    """The kernel of a stride-2, padding-1 convolution whose sampling grid is symmetric about the centre of a
    ``side``-pixel image, so quarter turns stay exact: 4 on an even side (window centres at 2i + 0.5; output
    side / 2), 3 on an odd one (centres at 2i; output (side + 1) / 2)."""
    return 4 if side % 2 == 0 else 3


def deep_stack(in_type: enn.FieldType, t1: enn.FieldType, t2: enn.FieldType, conv: ConvFactory,
               side: int | None) -> enn.SequentialModule:
    """The "deep" top-down encoder's convolutions for ``side``-pixel images: three stride-2 stages (e.g. 76 -> 38 ->
    19 -> 10 px), ``in_type`` -> ``t1`` -> ``t2`` -> ``t2``, with a 3x3 convolution after the second and the third
    (ReLU after each); every stride-2 kernel is :func:`stride2_kernel` of the side it sees. Receptive field 42 px
    (the small stack's: 18)."""
    if side is None or side < 8:
        raise ValueError(f"the deep image encoder needs the side of the images it sees (>= 8), got {side}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(((in_type, t1), (t1, t2), (t2, t2))):
        layers += [conv(a, b, stride2_kernel(side), padding=1, stride=2), enn.ReLU(b, inplace=True)]
        side = (side + 1) // 2  # side / 2 on an even side, (side + 1) / 2 on an odd one (stride2_kernel)
        if i:
            layers += [conv(b, b, 3, padding=1), enn.ReLU(b, inplace=True)]
    return enn.SequentialModule(*layers)


class EquivariantImageNet(nn.Module):
    """R2Conv stack on rot2dOnR2(N): RGB (trivial fields) -> regular fields, global average pool.
    (M, C, H, W) -> (M, out_fields * N), ``out_fields`` = 2 * fields (``architecture`` "small" or "deep", below) or
    8 * fields (``architecture`` "resnet": EquiDiff's design at its scale, :mod:`equidiff_relaxed.nn.image_resnet`;
    76 px, ``downsample`` ignored). "small": three convolutions (receptive field 18 px with ``downsample`` "stride");
    "deep": five, with a third stride-2 stage (:func:`deep_stack`; receptive field 42 px, about the plain CNN's 43;
    ``side``, the image side, picks each stage's kernel; ``downsample`` ignored). Exact for rotations by multiples of
    90 degrees on the pixel grid; keep H, W divisible by 4 (the resolution is halved twice; e.g. 88 or 76 px).
    ``crop_px``: random crop to that side while training, the centre crop otherwise (EquiDiff: 84 -> 76 px; keep
    H - crop_px even so the centre crop is symmetric). ``downsample``: "pool" (stride-1 convolutions, each halving by a 2x2 average pool) or "stride" (4x4
    stride-2 convolutions with padding 1, whose sampling grid is symmetric about the centre of an even-sized image:
    about 3x less compute on CPU). ``conv``: the kind of its convolutions (the exact
    :class:`~equidiff_relaxed.nn.r2conv.R2Conv`, or a :class:`~equidiff_relaxed.nn.relaxed_conv.RelaxedR2Conv`
    factory). Runs channels-last (the CPU convolutions are ~1.35x faster that way)."""

    def __init__(self, channels: int, group: SymmetryGroup, fields: int = 8, crop_px: int | None = None,
                 downsample: str = "pool", conv: ConvFactory = R2Conv, architecture: str = "small",
                 side: int | None = None):
        super().__init__()
        self.crop_px = crop_px
        if group.reflections:
            raise ValueError(f"top-down images with reflections ({group.name}) are not supported: use a C_N group")
        if architecture == "resnet":
            resnet = EquivariantResNet(channels, group.order, fields, conv)
            self.in_type, self.net, self.out_type = resnet.in_type, resnet.net, resnet.out_type
            return
        if architecture not in ("small", "deep"):
            raise ValueError(f"unknown image encoder {architecture!r} (known: small, deep, resnet)")
        gs = gspaces.rot2dOnR2(N=group.order)
        self.in_type = enn.FieldType(gs, channels * [gs.trivial_repr])
        t1 = enn.FieldType(gs, fields * [gs.regular_repr])
        t2 = enn.FieldType(gs, 2 * fields * [gs.regular_repr])
        if architecture == "deep":
            self.net, self.out_type = deep_stack(self.in_type, t1, t2, conv, crop_px or side), t2
            return
        # on an even side an odd kernel with stride 2 samples a grid that is not symmetric about the image centre
        # and breaks even the quarter-turn symmetry; stride-1 convolutions + 2x2 pooling, or even 4x4 kernels with
        # stride 2 and padding 1 (window centres at 2i + 0.5), keep it
        if downsample == "pool":
            layers = [conv(self.in_type, t1, 5, padding=2), enn.ReLU(t1, inplace=True),
                      enn.PointwiseAvgPool2D(t1, 2),
                      conv(t1, t2, 3, padding=1), enn.ReLU(t2, inplace=True), enn.PointwiseAvgPool2D(t2, 2)]
        elif downsample == "stride":
            layers = [conv(self.in_type, t1, 4, padding=1, stride=2), enn.ReLU(t1, inplace=True),
                      conv(t1, t2, 4, padding=1, stride=2), enn.ReLU(t2, inplace=True)]
        else:
            raise ValueError(f"unknown image downsample {downsample!r} (known: pool, stride)")
        self.net = enn.SequentialModule(*layers, conv(t2, t2, 3, padding=1), enn.ReLU(t2, inplace=True))
        self.out_type = t2

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.crop_px is not None:
            x = crop(x, (self.crop_px, self.crop_px), self.training, generator)
        x = x.contiguous(memory_format=torch.channels_last)
        y = self.net(enn.GeometricTensor(x, self.in_type)).tensor
        return y.mean(dim=(-2, -1))

    @property
    def out_fields(self) -> int:
        """Regular fields of the output."""
        return self.out_type.size // self.out_type.gspace.fibergroup.order()


class EquivariantObsEncoder(nn.Module):
    """Low-dim fields as C_N irreps (from shape_meta) and top-down image features as regular fields, mixed by
    group-linear layers into ``out_fields`` regular fields. Fixed-camera images (rep 'camera') go through a plain CNN
    into ``camera_features`` invariant (trivial) features per frame, like other symmetry-breaking inputs; eye-in-hand
    images (rep 'camera_inhand') likewise, through a CNN with a spatial softmax over ``keypoints`` maps.
    ``image_crop``: every image's crop side in pixels (random while training, centre otherwise);
    ``image_downsample``, ``image_conv``, ``image_encoder`` (its architecture): the top-down encoder's
    (:class:`EquivariantImageNet`), ``image_fields``
    its width (regular fields), ``image_width`` the plain CNNs' of fixed cameras. ``layers`` hidden layers of
    ``hidden_fields`` regular fields (ReLU between them). Each group copy h of the
    denoiser is conditioned on the ``out_fields`` entries [:, :, h], so ``out_fields`` is the per-copy width.
    ``layer``: the kind of its group-linear layers (:data:`~equidiff_relaxed.nn.group_linear.LayerFactory`, e.g.
    ``EquivariantLinear`` or a configured ``RelaxedLinear``)."""

    def __init__(self, shape_meta: ShapeMeta, n_obs_steps: int, group: SymmetryGroup, hidden_fields: int = 32,
                 out_fields: int = 16, layer: LayerFactory = EquivariantLinear, image_fields: int = 8,
                 camera_features: int = 32, layers: int = 1, image_crop: int | None = None, keypoints: int = 32,
                 image_downsample: str = "pool", image_conv: ConvFactory = R2Conv, image_width: int = 32,
                 image_encoder: str = "small"):
        super().__init__()
        self.meta, self.n_obs_steps = shape_meta, n_obs_steps
        G, gs = group.escnn, group.gspace
        self.layouts = {k: IrrepLayout.of(shape_meta.obs[k]) for k in shape_meta.low_dim_keys}
        self.cameras = nn.ModuleDict({k: image_net(shape_meta, k, camera_features, image_crop, keypoints, image_width)
                                      for k in shape_meta.camera_keys})
        per_step = [r for k in self.layouts for r in self.layouts[k].representations(group)]
        per_step += [G.trivial_representation] * (camera_features * len(self.cameras))
        reps = per_step * n_obs_steps
        self.images = nn.ModuleDict({k: EquivariantImageNet(shape_meta.obs[k].shape[0], group, image_fields,
                                                            image_crop, image_downsample, image_conv, image_encoder,
                                                            side=shape_meta.obs[k].shape[-1])
                                     for k in shape_meta.top_down_keys})
        n_img = sum(n_obs_steps * net.out_fields for net in self.images.values())
        hidden = group.regular_type(hidden_fields)
        self.lift = layer(enn.FieldType(gs, reps), hidden) if reps else None
        self.image_mix = layer(group.regular_type(n_img), hidden) if n_img else None
        self.hidden = nn.ModuleList(layer(hidden, hidden) for _ in range(layers - 1))
        self.out = layer(hidden, group.regular_type(out_fields))
        self.group_size, self.out_dim = group.size, out_fields

    def forward(self, obs: dict[str, torch.Tensor], generator: torch.Generator | None = None) -> torch.Tensor:
        b = next(iter(obs.values())).shape[0]
        h = 0.0
        if self.lift is not None:
            parts = [self.layouts[k].to_irreps(obs[k]) for k in self.layouts]  # (B, To, D_k')
            for k, net in self.cameras.items():
                x = obs[k]
                parts.append(net(x.reshape(-1, *x.shape[2:]), generator).reshape(b, x.shape[1], -1))
            x = torch.cat(parts, dim=-1)  # (B, To, D')
            h = self.lift(x.reshape(b, -1))
        if self.image_mix is not None:
            feats = []
            for k, net in self.images.items():
                x = obs[k]
                f = net(x.reshape(-1, *x.shape[2:]), generator)  # (B*To, F*N), regular
                feats.append(f.reshape(b, -1))
            h = h + self.image_mix(torch.cat(feats, dim=-1))
        h = torch.relu(h)  # ReLU acts per entry: commutes with permutations of regular fields
        for layer in self.hidden:
            h = torch.relu(layer(h))
        y = self.out(h)
        return y.view(b, self.out_dim, self.group_size)
