"""Demonstrations from scripted experts: deterministic (parallel) generation into zarr, and per-region reports."""
