"""Evaluate one or more checkpoints per orientation region on identical (paired) episodes, with diagnostics."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from equidiff_relaxed.data.windows import window_to_tensors
from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.data.symmetry_map import symmetry_breaking_map
from equidiff_relaxed.envs.registry import env_for_dataset, get_env_spec
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.eval.plan import episode_plan
from equidiff_relaxed.eval.report import (format_failure_table, format_table, layer_error_plot, polar_plot,
                                          relaxation_plot, run_name, symmetry_plot, write_csv, write_json)
from equidiff_relaxed.eval.result import EvalResult
from equidiff_relaxed.eval.rollouts import (EpisodeResult, NonFiniteActionError, env_factory, policy_env_kwargs,
                                            rollout)
from equidiff_relaxed.policy.checkpoint import load_checkpoint, policy_from_checkpoint
from equidiff_relaxed.policy.pretrained import is_policy_folder, load_pretrained_with_config


def check_output_dir(out: str | os.PathLike) -> Path:
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("")
        probe.unlink()
    except OSError as err:
        raise UserError(f"output folder is not writable ({err.strerror})", path) from None
    return path


def load_for_eval(path: str) -> tuple[Any, dict[str, Any], str | None]:
    """(policy in eval mode, the env it records, its training dataset or None) from a policy folder or a Lightning
    checkpoint; one-line UserErrors for bad files."""
    if is_policy_folder(path):
        policy, config = load_pretrained_with_config(path)
        return policy, config.get("env") or {}, config.get("dataset")
    ckpt = load_checkpoint(path)
    dataset = (ckpt.get("datamodule_hyper_parameters") or {}).get("dataset_path")
    return policy_from_checkpoint(ckpt, path), ckpt["hyper_parameters"].get("env") or {}, dataset


def env_of(recorded: dict[str, Any], override: str | None, path: str) -> tuple[str, dict[str, Any]]:
    """(env name, ``make`` kwargs) to evaluate a policy in: the env its dataset's ``env`` attrs call for
    (:func:`~equidiff_relaxed.envs.registry.env_for_dataset`), recreated with every recorded setting (its
    registration's ``recreate``: kwargs and, for push, the scene geometry), or ``override`` (then recreated from
    nothing, i.e. its defaults, unless it is that env)."""
    dataset_env = env_for_dataset(recorded)
    name = override or dataset_env
    if not name:
        raise UserError("the checkpoint records no env; pass --env", path)
    spec = get_env_spec(name)  # UserError listing the known envs
    try:
        return name, spec.recreate(recorded if name == dataset_env else {})
    except UserError as err:
        raise UserError(err.message, path) from None


def write_video(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    import imageio.v2 as imageio

    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.mp4")
    imageio.mimwrite(tmp, frames, fps=fps, macro_block_size=1)
    os.replace(tmp, path)


def failure_video_name(ckpt_stem: str, result: EpisodeResult) -> str:
    """File name of a failed episode's video: ``<ckpt-stem>_region<k>_fail_ep<index>_<category>.mp4``."""
    return f"{ckpt_stem}_region{result.spec.region}_fail_ep{result.spec.index:02d}_{result.failure}.mp4"


def evaluate(checkpoints: list[str], out: str | os.PathLike, env: str | None = None, n_regions: int = 8,
             episodes_per_region: int = 25, n_envs: int = 2, seed: int = 0, ddim_steps: int | None = None,
             video: bool = False, progress: bool = True, video_failures: int = 0,
             max_steps: int | None = None, lazy_images: bool = True) -> dict[str, Any]:
    """Evaluate ``checkpoints`` on one paired episode plan; write the reports (and videos) into ``out``.

    ``video``: one MP4 per region and checkpoint (its first episode). ``video_failures``: MP4s of the first
    ``video_failures`` failed episodes of each region per checkpoint (see :func:`failure_video_name`).
    ``max_steps``: episode length (default: the env's). ``lazy_images``: skip rendering the camera images the
    policy will not look at, in envs that can (:func:`~equidiff_relaxed.eval.rollouts.rollout`). Env faults
    are failed episodes (``env_error``, ``nonfinite_state``; see ``rollouts``); a policy that outputs NaN/inf actions
    stops the evaluation with a UserError naming its checkpoint.

    Returns results.json's content with ``checkpoints`` as :class:`EvalResult` objects (one per checkpoint, in
    order), plus ``table`` and ``failure_table`` (the terminal reports).
    """
    if n_regions < 1:
        raise UserError(f"--regions must be >= 1, got {n_regions}")
    if episodes_per_region < 1:
        raise UserError(f"--episodes_per_region must be >= 1, got {episodes_per_region}")
    if n_envs < 1:
        raise UserError(f"--n_envs must be >= 1, got {n_envs}")
    if video_failures < 0:
        raise UserError(f"--video_failures must be >= 0, got {video_failures}")
    if max_steps is not None and max_steps < 1:
        raise UserError(f"--max_steps must be >= 1, got {max_steps}")
    loaded = {p: load_for_eval(p) for p in checkpoints}  # fail early on any bad file, before writing anything
    out_dir = check_output_dir(out)
    plan = episode_plan(n_regions, episodes_per_region, seed)
    payload: dict[str, Any] = {"regions": n_regions, "episodes_per_region": episodes_per_region, "seed": seed,
                               "checkpoints": []}
    names: list[str] = []
    layers_all: dict[str, Any] = {}
    data_maps: dict[str, Any] = {}
    for path, (policy, recorded_env, dataset) in loaded.items():
        env_name, env_kwargs = env_of(recorded_env, env, path)
        if ddim_steps is not None and not 1 <= ddim_steps <= policy.infer_scheduler.config.num_train_timesteps:
            raise UserError(f"--ddim_steps must be in [1, {policy.infer_scheduler.config.num_train_timesteps}]")
        env_kwargs.update(policy_env_kwargs(policy, n_regions))
        env_kwargs.update(get_env_spec(env_name).policy_kwargs(policy.meta))  # e.g. the controller, the cameras
        if max_steps is not None:
            env_kwargs["max_steps"] = max_steps
        if video or video_failures:
            env_kwargs.update(render_mode="rgb_array")
        stem, videos = Path(path).stem, []

        def save_failure(r: EpisodeResult, frames: list[np.ndarray], stem: str = stem, videos: list = videos) -> None:
            videos.append(failure_video_name(stem, r))
            write_video(out_dir / videos[-1], frames)

        try:
            result = rollout(policy, env_factory(env_name, **env_kwargs), plan, n_envs, ddim_steps, video,
                             progress=progress, desc=f"{Path(path).name} on {env_name}",
                             video_failures=video_failures, on_failure_video=save_failure,
                             analysis=get_env_spec(env_name).analysis, lazy_images=lazy_images)
        except NonFiniteActionError as err:
            raise UserError(str(err), path) from None
        samples = {k: [window_to_tensors(w, policy.meta) for w in result.obs_samples.get(k, [])]
                   for k in range(n_regions)}
        diagnostics = policy.family.diagnostics(policy, samples, seed)
        layers = diagnostics["relaxation"]
        if dataset and dataset not in data_maps:
            data_maps[dataset] = _data_map(dataset, n_regions)
        found = EvalResult.from_episodes(
            result.results, n_regions, env_name, checkpoint=str(path), model=policy.model_family,
            group=policy.group.name, group_order=policy.group_order,
            equivariance_error_per_region=diagnostics["equivariance_error_per_region"], relaxation=layers,
            gate_per_region=diagnostics["gate_per_region"], dataset=dataset, failure_videos=videos,
            layer_error_per_region=diagnostics.get("layer_error_per_region", {}))
        payload["checkpoints"].append(found)
        names.append(str(path))
        layers_all.update({f"{Path(path).name}:{k}": v for k, v in layers.items()})
        if video:
            for region, frames in result.videos.items():
                write_video(out_dir / f"{Path(path).stem}_region{region}.mp4", frames)
    payload["data_symmetry_map"] = data_maps
    write_json(out_dir / "results.json", {**payload, "checkpoints": [c.to_dict() for c in payload["checkpoints"]]})
    tables = [c.regions for c in payload["checkpoints"]]
    write_csv(out_dir / "regions.csv", names, tables)
    polar_plot(out_dir / "regions.png", names, tables)
    labels = [c.model for c in payload["checkpoints"]]
    labels = [f"{m} ({Path(n).parent.parent.name or Path(n).stem})" if labels.count(m) > 1 else m
              for m, n in zip(labels, names)]
    maps = [rows for rows in data_maps.values() if isinstance(rows, list)]
    symmetry_plot(out_dir / "symmetry.png", labels, tables,
                  [[e["rel"] for e in c.equivariance_error_per_region] for c in payload["checkpoints"]],
                  [r["ratio"] for r in maps[0]] if maps else None)
    if layers_all:
        relaxation_plot(out_dir / "relaxation.png", layers_all)
    per_layer = {f"{Path(c.checkpoint).name}:{k}": v for c in payload["checkpoints"]
                 for k, v in c.layer_error_per_region.items()}
    if per_layer:
        layer_error_plot(out_dir / "layers.png", per_layer)
    columns = [run_name(n) for n in names]
    if len(set(columns)) < len(columns):  # two checkpoints of one run: their paths tell them apart
        columns = names
    payload["table"] = format_table(columns, tables)
    payload["failure_table"] = format_failure_table(columns, [c.failures for c in payload["checkpoints"]])
    return payload


def _data_map(dataset: str, n_regions: int) -> Any:
    if not Path(dataset).exists():
        return f"dataset {dataset} not found"
    try:
        with ReplayBuffer.open(dataset) as buf:
            return [{"region": r.region, "episodes": r.episodes, "deviation": r.deviation, "spread": r.spread,
                     "ratio": r.ratio} for r in symmetry_breaking_map(buf, n_regions)]
    except UserError as err:
        return f"not available: {err}"


def format_diagnostics(payload: dict[str, Any]) -> str:
    lines = []
    for entry in payload["checkpoints"]:
        eq = entry.equivariance_error_per_region
        lines.append(f"{Path(entry.checkpoint).name} ({entry.model}): equivariance error per region "
                     "(normalised units): " + " ".join(f"{e['rel']:.3f}" if math.isfinite(e["rel"]) else "n/a" for e in eq))
        for name, layer in entry.relaxation.items():
            lines.append(f"  relaxed layer {name}: mean_h |w(h) - w(e)| = {layer['mean_abs_deviation_from_identity']:.2e}")
        for name, errors in entry.layer_error_per_region.items():
            lines.append(f"  {name}: quarter-turn equivariance error per region " + " ".join(
                f"{e:.3f}" if math.isfinite(e) else "n/a" for e in errors))
        if entry.gate_per_region:
            lines.append("  mean gate g(o) per region: " + " ".join(
                f"{g:.3f}" if math.isfinite(g) else "n/a" for g in entry.gate_per_region))
    for dataset, rows in payload["data_symmetry_map"].items():
        if isinstance(rows, str):
            lines.append(f"data symmetry-breaking map: {rows}")
        else:
            lines.append(f"data symmetry-breaking ratio per region ({dataset}): "
                         + " ".join(f"{r['ratio']:.2f}" for r in rows))
    return "\n".join(lines)
