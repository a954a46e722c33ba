"""PolicyConfig: every architecture and sampling option of a :class:`~equidiff_relaxed.policy.diffusion_policy.
DiffusionPolicy`, declared once with its default, validated when it is created, and written to / read from plain
JSON (the policy folder's ``config.json``, checkpoints' hyperparameters).

What the data decides is not here: shape_meta, the symmetry centre and the reflection axis come from the dataset.
Training options (lr, warm-up, seed) belong to the Lightning module.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from equidiff_relaxed.policy.families import get_family

AUGMENTATIONS = (None, "so2", "cn")
RELAX_WHERE = ("all", "encoder", "denoiser")  # which part's group-linear layers are relaxed (or residual)
IMAGE_DOWNSAMPLE = ("pool", "stride")  # how the equivariant image encoder halves the resolution (twice)
DDIM_SPACINGS = ("trailing", "leading", "linspace")  # diffusers' timestep_spacing
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")  # what the denoiser predicts (diffusers' prediction_type)
DENOISERS = ("unet", "mlp")


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


@dataclass
class PolicyConfig:
    """See :mod:`equidiff_relaxed.policy.diffusion_policy` for what each option does. T = ``horizon``,
    To = ``n_obs_steps``, Ta = ``n_action_steps`` (the datamodule must use the same three)."""

    model: str = "relaxed"
    horizon: int = 16
    n_obs_steps: int = 2
    n_action_steps: int = 8
    group_order: int = 8
    subgroup_order: int | None = None
    encoder_hidden: int = 256
    encoder_dim: int = 64
    encoder_fields: int = 8
    encoder_layers: int = 1
    lift_fields: int = 8
    down_dims: list[int] = field(default_factory=lambda: [64, 128, 256])
    kernel_size: int = 5
    n_groups: int = 8
    denoiser: str = "unet"
    denoiser_width: int = 256
    denoiser_depth: int = 3
    image_crop: int | None = None  # images: crop side in pixels (random while training, centre at inference)
    inhand_keypoints: int = 32  # eye-in-hand images (rep camera_inhand): spatial-softmax keypoints
    image_downsample: str = "pool"  # equivariant image encoder: "pool" (conv + 2x2 average pool) or "stride"
    # (4x4 stride-2 convolutions; ~3x faster on CPU, equally exact for quarter turns; success measured on one run)
    relax_banks: int = 2
    relax_alpha: float = 1e-3
    residual_beta: float = 1.0  # 1e-2 was too weak at 10 demos (docs/results/residual_beta.md)
    relax_where: str = "all"
    gate_alpha: float = 1e-2  # gated: penalty on the mean gate activation
    gate_init: float = 0.5  # gated: the gate's value everywhere at initialisation, in (0, 1)
    gate_warmup: float = 0.25  # gated: the gate penalty ramps up linearly over this fraction of the run, in [0, 1]
    local_alpha: float = 1e-3  # local: penalty on the mean |kappa(o)| (how far the average narrows)
    local_elements: int | None = None  # local: the K group elements nearest the identity averaged (None: all N)
    local_conditioned: bool = True  # local: kappa from the observation (False: one global kappa)
    breaking_inputs: list[str] | None = None  # cause_equi: which shape_meta breaking fields to feed (None: all)
    canonical_from: str | None = None  # canonical: the position whose direction fixes the frame (default: the first
    # pos2/pos3 observation that is not relative_to)
    num_train_timesteps: int = 100
    ddim_steps: int = 16
    ddim_spacing: str = "trailing"
    prediction_type: str = "v_prediction"
    augment: str | None = None
    normalizer_mode: str = "symmetric"
    relative_to: str | None = None

    def __post_init__(self) -> None:
        self.down_dims = [int(d) for d in self.down_dims]
        family = get_family(self.model)  # ValueError naming the registered families
        for name in ("horizon", "n_obs_steps", "n_action_steps", "group_order", "encoder_layers",
                     "num_train_timesteps", "inhand_keypoints"):
            _positive_int(name, getattr(self, name))
        if self.image_crop is not None:
            _positive_int("image_crop", self.image_crop)
        if self.image_downsample not in IMAGE_DOWNSAMPLE:
            raise ValueError(f"unknown image_downsample {self.image_downsample!r} (known: {', '.join(IMAGE_DOWNSAMPLE)})")
        if family.subgroup and self.subgroup_order is not None:
            _positive_int("subgroup_order", self.subgroup_order)
            if self.group_order % self.subgroup_order:
                raise ValueError(f"subgroup_order {self.subgroup_order} must divide group_order {self.group_order}")
        if not isinstance(self.gate_alpha, (int, float)) or not self.gate_alpha >= 0:
            raise ValueError(f"gate_alpha must be a number >= 0, got {self.gate_alpha!r}")
        if not isinstance(self.gate_init, (int, float)) or not 0 < self.gate_init < 1:
            raise ValueError(f"gate_init must be a number in (0, 1), got {self.gate_init!r}")
        if not isinstance(self.local_alpha, (int, float)) or not self.local_alpha >= 0:
            raise ValueError(f"local_alpha must be a number >= 0, got {self.local_alpha!r}")
        if self.local_elements is not None:
            _positive_int("local_elements", self.local_elements)
            if self.local_elements > self.group_order:
                raise ValueError(f"local_elements {self.local_elements} is wider than the group C_{self.group_order} "
                                 f"({self.group_order} elements)")
        if not isinstance(self.gate_warmup, (int, float)) or not 0 <= self.gate_warmup <= 1:
            raise ValueError(f"gate_warmup must be a number in [0, 1], got {self.gate_warmup!r}")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augment {self.augment!r} (known: so2, cn or null)")
        if self.relax_where not in RELAX_WHERE:
            raise ValueError(f"unknown relax_where {self.relax_where!r} (known: {', '.join(RELAX_WHERE)})")
        if self.denoiser not in DENOISERS:
            raise ValueError(f"unknown denoiser {self.denoiser!r} (known: {', '.join(DENOISERS)})")
        if self.prediction_type not in PREDICTION_TYPES:
            raise ValueError(f"unknown prediction_type {self.prediction_type!r} "
                             f"(known: {', '.join(PREDICTION_TYPES)})")
        if self.ddim_spacing not in DDIM_SPACINGS:
            raise ValueError(f"unknown ddim_spacing {self.ddim_spacing!r} (known: {', '.join(DDIM_SPACINGS)})")
        if self.ddim_spacing != "leading" and self.prediction_type == "epsilon":
            raise ValueError(f"ddim_spacing {self.ddim_spacing!r} with prediction_type 'epsilon' starts at t = T-1, "
                             "where x0 = (x - sqrt(1-abar) eps) / sqrt(abar) divides by sqrt(abar) = 5e-4: use "
                             "prediction_type v_prediction (default) or ddim_spacing leading")
        if self.ddim_steps < 1 or self.ddim_steps > self.num_train_timesteps:
            raise ValueError(f"ddim_steps must be in [1, {self.num_train_timesteps}], got {self.ddim_steps}")

    @property
    def effective_subgroup_order(self) -> int:
        """M of the subgroup family's C_M < C_N (default N / 2)."""
        return self.subgroup_order if self.subgroup_order is not None else max(1, self.group_order // 2)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def check_names(cls, values: dict[str, Any]) -> None:
        """ValueError naming the keys of ``values`` that are not options (a typo must not silently fall back to a
        default)."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise ValueError(f"unknown policy option(s): {', '.join(unknown)} (options: {', '.join(cls.names())})")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "PolicyConfig":
        """From plain values; ValueError naming unknown keys (:meth:`check_names`)."""
        cls.check_names(values)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values."""
        return asdict(self)


__all__ = ["PolicyConfig", "AUGMENTATIONS", "RELAX_WHERE", "DDIM_SPACINGS", "PREDICTION_TYPES", "DENOISERS"]
