"""EvalResult: what one evaluation of one policy on a paired episode plan found, in one schema.

evaluate() builds one per checkpoint and writes them into results.json (``checkpoints``); the sweep stores one per run
in its eval.json (with the run's fields added) and pools them into tables; the training callback logs one. Reading
goes through :meth:`EvalResult.from_dict`, which also accepts the eval.json files of earlier versions (missing
fields get their defaults).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

from equidiff_relaxed.eval.metrics import episode_metrics, region_means
from equidiff_relaxed.eval.report import failure_counts, mean_success, region_stats
from equidiff_relaxed.eval.rollouts import EpisodeResult
from equidiff_relaxed.eval.stats import RegionStats


def episode_dict(r: EpisodeResult) -> dict[str, Any]:
    """One entry of ``episodes``: plan position, outcome, every registered metric (:mod:`equidiff_relaxed.eval.
    metrics`; e.g. ``wrist_margin``: pick episodes only), the failure category and, for an env fault
    (``env_error``, ``nonfinite_state``), its one-line ``failure_reason``."""
    return {"region": r.spec.region, "index": r.spec.index, "theta": r.spec.theta, "success": r.success,
            "steps": r.steps, **episode_metrics(r), "failure": r.failure, "failure_reason": r.reason}


@dataclass
class EvalResult:
    """Per-region success of one policy (``regions``: one RegionStats per orientation region), failed episodes per
    region and category (``failures``), every episode (``episodes``, paired across policies by (region, index)),
    and the diagnostics: relative equivariance error per region, the relaxation weights per relaxed layer and, for
    image encoders that report it, each convolution's equivariance error per region."""

    env: str
    regions: list[RegionStats]
    failures: list[dict[str, int]]
    episodes: list[dict[str, Any]]
    checkpoint: str = ""
    model: str = ""
    group: str = ""
    group_order: int = 0
    equivariance_error_per_region: list[dict[str, float]] = field(default_factory=list)
    relaxation: dict[str, Any] = field(default_factory=dict)
    gate_per_region: list[float] = field(default_factory=list)  # gated family: mean gate g(o) per region
    # image encoders: per convolution ("<key>.conv<i>"), the quarter-turn equivariance error of its output per region
    layer_error_per_region: dict[str, list[float]] = field(default_factory=dict)
    dataset: str | None = None
    failure_videos: list[str] = field(default_factory=list)

    @classmethod
    def from_episodes(cls, results: list[EpisodeResult], n_regions: int, env: str, **info: Any) -> "EvalResult":
        """From finished rollouts; ``info``: the other fields (checkpoint, model, diagnostics, ...)."""
        return cls(env=env, regions=region_stats(results, n_regions), failures=failure_counts(results, n_regions),
                   episodes=[episode_dict(r) for r in results], **info)

    @property
    def mean_success(self) -> float:
        """Mean over regions of the per-region success rate (regions without episodes are left out)."""
        return mean_success(self.regions)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: results.json's ``checkpoints`` entry (each region row carries its failure counts)."""
        totals = {c: sum(f[c] for f in self.failures) for c in (self.failures[0] if self.failures else {})}
        means = region_means(self.episodes, len(self.regions))
        return {"checkpoint": self.checkpoint, "model": self.model, "group_order": self.group_order,
                "group": self.group, "env": self.env, "mean_success": self.mean_success,
                "regions": [{**r.to_dict(), "failures": f, "metrics": m}
                            for r, f, m in zip(self.regions, self.failures, means)],
                "failures": totals, "episodes": self.episodes,
                "equivariance_error_per_region": self.equivariance_error_per_region,
                "relaxation": self.relaxation, **({"gate_per_region": self.gate_per_region} if self.gate_per_region
                                                  else {}),
                **({"layer_error_per_region": self.layer_error_per_region} if self.layer_error_per_region else {}),
                "dataset": self.dataset, "failure_videos": self.failure_videos}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EvalResult":
        """From :meth:`to_dict`'s JSON (or a sweep's eval.json, whose run fields are ignored here)."""
        rows = data["regions"]
        regions = [RegionStats(int(r["region"]), float(r.get("theta_lo", math.nan)), float(r.get("theta_hi", math.nan)),
                               int(r["episodes"]), int(r["successes"])) for r in rows]
        known = {f.name for f in fields(cls)} - {"regions", "failures"}
        values = {"env": "", "episodes": [], **{k: v for k, v in data.items() if k in known}}
        return cls(regions=regions, failures=[dict(r.get("failures") or {}) for r in rows], **values)


__all__ = ["EvalResult", "episode_dict"]
