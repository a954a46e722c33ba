"""Demonstration data: zarr replay buffer, shape_meta, sequence sampler, normalizer, robomimic interchange."""
