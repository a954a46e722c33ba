import torch

from equidiff_relaxed.data.synthetic import CENTER
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy

TINY = dict(horizon=8, n_obs_steps=2, n_action_steps=4, down_dims=(8, 16), encoder_hidden=32, encoder_dim=16,
            encoder_fields=4, lift_fields=4, n_groups=4, ddim_steps=4, symmetry_center=CENTER)


def make_policy(push_data, family: str, **kwargs) -> DiffusionPolicy:
    buf, data = push_data
    torch.manual_seed(0)
    policy = DiffusionPolicy(buf.shape_meta, family, **{**TINY, **kwargs})
    policy.fit_normalizer(data)
    return policy


def obs_batch(push_data, b: int = 3) -> dict[str, torch.Tensor]:
    _, data = push_data
    g = torch.Generator().manual_seed(1)
    return {k: torch.tensor(data[k][:2], dtype=torch.float32)[None].repeat(b, 1, 1)
            + 0.02 * torch.randn(b, 2, 2, generator=g) for k in ("pusher_pos", "puck_pos")}


def group_layer(kind: str, in_type, out_type, banks: int = 2, alpha: float = 0.0, beta: float = 0.0, **kwargs):
    """A group-linear layer of ``kind`` (equivariant | relaxed | residual): the class of that kind with its own
    options."""
    from equidiff_relaxed.nn.group_linear import EquivariantLinear, RelaxedLinear, ResidualLinear

    if kind == "equivariant":
        return EquivariantLinear(in_type, out_type, **kwargs)
    if kind == "relaxed":
        return RelaxedLinear(in_type, out_type, banks=banks, alpha=alpha, **kwargs)
    if kind == "residual":
        return ResidualLinear(in_type, out_type, beta=beta, **kwargs)
    raise ValueError(kind)
