"""1D temporal conditional U-Net (diffusion_policy's ConditionalUnet1D design, written for this project).

Input (B, C_in, T) noisy action chunk, diffusion step (B,), condition (B, cond_dim) -> (B, C_out, T).
Each residual block is FiLM-conditioned (per-channel scale and bias) on [step embedding, condition].
T must be divisible by 2 ** (len(down_dims) - 1).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from einops import rearrange
from torch import nn


class SinusoidalStepEmbedding(nn.Module):
    """(B,) diffusion steps -> (B, dim) sinusoidal features."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.dim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / max(half - 1, 1))
        args = t.float()[:, None] * freqs[None]
        return torch.cat([args.sin(), args.cos()], dim=-1)


def step_embedding(dim: int) -> nn.Sequential:
    """(B,) diffusion steps -> (B, dim): sinusoidal features and a small MLP (shared by the U-Net and the MLP)."""
    return nn.Sequential(SinusoidalStepEmbedding(dim), nn.Linear(dim, 4 * dim), nn.Mish(), nn.Linear(4 * dim, dim))


class ConvBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, kernel: int, groups: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2),
                                 nn.GroupNorm(groups, c_out), nn.Mish())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FiLMResidualBlock(nn.Module):
    """Two conv blocks; the first one's output is modulated by scale/bias predicted from the condition."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, kernel: int, groups: int):
        super().__init__()
        self.block1 = ConvBlock(c_in, c_out, kernel, groups)
        self.block2 = ConvBlock(c_out, c_out, kernel, groups)
        self.film = nn.Sequential(nn.Mish(), nn.Linear(cond_dim, 2 * c_out))
        self.skip = nn.Conv1d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        scale, bias = rearrange(self.film(cond), "b (two c) -> two b c 1", two=2)
        h = self.block1(x) * scale + bias
        return self.block2(h) + self.skip(x)


class ConditionalUnet1D(nn.Module):
    """See the module docstring. Sizes: ``down_dims`` channels per level, ``kernel_size``, ``n_groups``."""

    def __init__(self, in_channels: int, out_channels: int, cond_dim: int, down_dims: Sequence[int] = (64, 128, 256),
                 kernel_size: int = 5, n_groups: int = 8, step_embed_dim: int = 64):
        super().__init__()
        dims = [in_channels, *down_dims]
        self.step_embed = step_embedding(step_embed_dim)
        c = step_embed_dim + cond_dim
        self.down = nn.ModuleList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            last = i == len(down_dims) - 1
            self.down.append(nn.ModuleList([
                FiLMResidualBlock(a, b, c, kernel_size, n_groups), FiLMResidualBlock(b, b, c, kernel_size, n_groups),
                nn.Conv1d(b, b, 3, 2, 1) if not last else nn.Identity()]))
        mid = down_dims[-1]
        self.mid = nn.ModuleList([FiLMResidualBlock(mid, mid, c, kernel_size, n_groups) for _ in range(2)])
        self.up = nn.ModuleList()
        rev = list(reversed(down_dims))
        for i, (a, b) in enumerate(zip(rev[:-1], rev[1:])):
            self.up.append(nn.ModuleList([
                FiLMResidualBlock(2 * a, b, c, kernel_size, n_groups), FiLMResidualBlock(b, b, c, kernel_size, n_groups),
                nn.ConvTranspose1d(b, b, 4, 2, 1)]))
        self.final = nn.Sequential(ConvBlock(down_dims[0], down_dims[0], kernel_size, n_groups),
                                   nn.Conv1d(down_dims[0], out_channels, 1))
        self.levels = len(down_dims)

    def forward(self, x: torch.Tensor, step: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % (2 ** (self.levels - 1)):
            raise ValueError(f"horizon {x.shape[-1]} must be divisible by {2 ** (self.levels - 1)}")
        c = torch.cat([self.step_embed(step), cond], dim=-1)
        skips = []
        for res1, res2, down in self.down:
            x = res2(res1(x, c), c)
            skips.append(x)
            x = down(x)
        for block in self.mid:
            x = block(x, c)
        for res1, res2, up in self.up:
            x = torch.cat([x, skips.pop()], dim=1)
            x = up(res2(res1(x, c), c))
        return self.final(x)
