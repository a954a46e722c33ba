"""PolicyConfig: every architecture and sampling option of a :class:`~equidiff_relaxed.policy.diffusion_policy.
DiffusionPolicy`, declared once with its default, validated when it is created, and written to / read from plain
JSON (the policy folder's ``config.json``, checkpoints' hyperparameters).

Two kinds of options: the common ones (:class:`CommonOptions`: horizon, widths, sampling, ...) that every family
takes, and each family's own (its :attr:`Family.options <equidiff_relaxed.policy.families.Family.options>`
dataclass: ``relax_alpha``, ``gate_alpha``, ...). :class:`PolicyConfig` is the common options plus every registered
family's options, unset (None) unless given: so ``--model.<option>`` reaches every option from the command line,
while an option the chosen family does not take is refused (``model 'plain' does not take relax_alpha ...``). Once
created, the chosen family's options hold their values (defaults filled in) and ``family_options`` is its options
dataclass; the other families' options stay None and are left out of :meth:`PolicyConfig.to_dict`.

What the data decides is not here: shape_meta, the symmetry centre and the reflection axis come from the dataset.
Training options (lr, warm-up, seed) belong to the Lightning module.
"""
from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from equidiff_relaxed.policy.families import (all_option_fields, family_names, family_option_docs, get_family,
                                              watch_registrations)

AUGMENTATIONS = (None, "so2", "cn")
IMAGE_ENCODERS = ("small", "deep", "resnet")  # the equivariant top-down image encoder's architecture
IMAGE_DOWNSAMPLE = ("pool", "stride")  # how the equivariant image encoder halves the resolution (twice)
DDIM_SPACINGS = ("trailing", "leading", "linspace")  # diffusers' timestep_spacing
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")  # what the denoiser predicts (diffusers' prediction_type)
DENOISERS = ("unet", "mlp")


def _positive_int(name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")


@dataclass
class CommonOptions:
    """The options every family takes. See :mod:`equidiff_relaxed.policy.diffusion_policy` for what each one does.
    T = ``horizon``, To = ``n_obs_steps``, Ta = ``n_action_steps`` (the datamodule must use the same three)."""

    model: str = "relaxed"
    horizon: int = 16
    n_obs_steps: int = 2
    n_action_steps: int = 8
    group_order: int = 8
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
    image_encoder: str = "small"  # equivariant top-down image encoder: "small" (3 convolutions, receptive field
    # 18 px), "deep" (5, a third stride-2 stage: 42 px, the plain CNN's) or "resnet" (EquiDiff's design: 76 px, 4
    # stages of residual blocks with image_fields x 1, 2, 4, 8 regular fields)
    image_fields: int = 8  # equivariant top-down image encoder: regular fields of its first stage (more after)
    image_width: int = 32  # plain CNNs of images other than eye-in-hand ones: channels of the first stage (2x after)
    image_downsample: str = "pool"  # equivariant image encoder: "pool" (conv + 2x2 average pool) or "stride"
    # (4x4 stride-2 convolutions; ~3x faster on CPU, equally exact for quarter turns; success measured on one run)
    num_train_timesteps: int = 100
    ddim_steps: int = 16
    ddim_spacing: str = "trailing"
    prediction_type: str = "v_prediction"
    augment: str | None = None
    normalizer_mode: str = "symmetric"
    relative_to: str | None = None

    def check_common(self) -> None:
        """ValueError for a common option that cannot work."""
        self.down_dims = [int(d) for d in self.down_dims]
        for name in ("horizon", "n_obs_steps", "n_action_steps", "group_order", "encoder_layers",
                     "num_train_timesteps", "inhand_keypoints", "image_fields", "image_width"):
            _positive_int(name, getattr(self, name))
        if self.image_crop is not None:
            _positive_int("image_crop", self.image_crop)
        if self.image_width % 8:
            raise ValueError(f"image_width must be a multiple of 8 (the CNN's GroupNorm groups), got {self.image_width}")
        if self.image_encoder not in IMAGE_ENCODERS:
            raise ValueError(f"unknown image_encoder {self.image_encoder!r} (known: {', '.join(IMAGE_ENCODERS)})")
        if self.image_downsample not in IMAGE_DOWNSAMPLE:
            raise ValueError(f"unknown image_downsample {self.image_downsample!r} (known: {', '.join(IMAGE_DOWNSAMPLE)})")
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"unknown augment {self.augment!r} (known: so2, cn or null)")
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


class _PolicyConfigMethods:
    """The behaviour of :class:`PolicyConfig` (its fields are made from the family registry below)."""

    family_options: Any

    def __post_init__(self) -> None:
        self.check_common()  # type: ignore[attr-defined]
        family = get_family(self.model)  # type: ignore[attr-defined]  # ValueError naming the registered families
        given = {n: getattr(self, n) for n in self.family_option_names() if getattr(self, n) is not None}
        foreign = sorted(n for n in given if n not in family.option_names())
        if foreign:
            raise ValueError(family.refusal(foreign))
        self.family_options = family.make_options(given, self)
        for name in family.option_names():
            setattr(self, name, getattr(self.family_options, name))

    @classmethod
    def family_option_names(cls) -> tuple[str, ...]:
        common = {f.name for f in fields(CommonOptions)}
        return tuple(f.name for f in fields(cls) if f.name not in common)  # type: ignore[arg-type]

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    @classmethod
    def check_names(cls, values: dict[str, Any]) -> None:
        """ValueError naming the keys of ``values`` that are not options (a typo must not silently fall back to a
        default)."""
        unknown = sorted(set(values) - set(cls.names()))
        if unknown:
            raise ValueError(f"unknown policy option(s): {', '.join(unknown)} (options: {', '.join(cls.names())})")

    @classmethod
    def from_dict(cls, values: dict[str, Any], recorded: bool = False) -> Any:
        """From plain values; ValueError naming unknown keys (:meth:`check_names`). ``recorded``: values read back
        from a checkpoint or policy folder, which before families had their own options recorded every option for
        every family: the options the family does not take are dropped (they never did anything)."""
        cls.check_names(values)
        if recorded:
            takes = set(get_family(values.get("model", "relaxed")).option_names())
            values = {k: v for k, v in values.items() if k not in cls.family_option_names() or k in takes}
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values: the common options and the family's own."""
        own = set(get_family(self.model).option_names())  # type: ignore[attr-defined]
        return {k: v for k, v in asdict(self).items() if k not in self.family_option_names() or k in own}


def _policy_config() -> type:
    """The common options plus every registered family's options (unset: None), as one dataclass."""
    docs = family_option_docs()
    extra = []
    for name, f in all_option_fields().items():
        hint = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        hint = hint if "None" in hint else f"{hint} | None"
        extra.append((name, hint, dataclasses.field(default=None)))
    doc = ("Every option of a policy: :class:`CommonOptions` and each family's own (see the module docstring).\n\n"
           "Args:\n" + "".join(f"    {name}: {text}\n" for name, text in docs.items()))
    cls = dataclasses.make_dataclass("PolicyConfig", extra, bases=(_PolicyConfigMethods, CommonOptions),
                                     namespace={"__doc__": doc, "__module__": __name__})
    return cls


family_names()  # plug-ins named when the process starts register their families (and options) first
PolicyConfig = _policy_config()


def _add_new_options() -> None:
    """A family registered later (a plug-in loaded on first use) brings its options into PolicyConfig in place, so
    ``--model.<option>`` and every holder of the class see them."""
    if set(all_option_fields()) <= set(PolicyConfig.family_option_names()):
        return
    fresh = _policy_config()
    for name in ("__dataclass_fields__", "__init__", "__repr__", "__eq__", "__match_args__", "__annotations__",
                 "__doc__"):
        if name in fresh.__dict__:
            setattr(PolicyConfig, name, fresh.__dict__[name])


watch_registrations(_add_new_options)

__all__ = ["AUGMENTATIONS", "CommonOptions", "DDIM_SPACINGS", "DENOISERS", "PREDICTION_TYPES", "PolicyConfig"]
