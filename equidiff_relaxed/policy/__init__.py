"""Diffusion policy (one class for all model families), its Lightning training module and the EMA callback."""
