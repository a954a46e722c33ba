"""robosuite envs from a robomimic file's ``env_args``: replay stored states, move datasets between tools.

``robosuite_env_from_env_args`` builds the bare robosuite env any robomimic file for robosuite 1.5 describes;
``env_from_env_args`` rebuilds this toolkit's adapter (theta layouts, our observation and action forms) from the
``equidiff_relaxed`` block that our generator and exporter add to ``env_args``.
"""
from __future__ import annotations

from typing import Any

from equidiff_relaxed.envs.robosuite_tasks import TASKS, RobosuiteTaskEnv, make_robosuite
from equidiff_relaxed.errors import UserError


def robosuite_env_from_env_args(env_args: dict[str, Any], **overrides: Any) -> Any:
    """The bare robosuite env a robomimic file's ``env_args`` describes (type 1 = robosuite; 1.5-style
    ``env_kwargs``), without on-screen rendering and on this machine's default GPU (the recorded
    ``render_gpu_device_id`` names the recording machine's). ``overrides`` replace entries of ``env_kwargs``."""
    if not isinstance(env_args, dict) or env_args.get("type") != 1 or not env_args.get("env_name"):
        raise UserError("env_args do not describe a robosuite env (need env_name and type 1)")
    kwargs = {**dict(env_args.get("env_kwargs") or {}), "has_renderer": False, **overrides}
    kwargs.pop("render_gpu_device_id", None)
    try:
        return make_robosuite(env_args["env_name"], kwargs)
    except (TypeError, ValueError, AssertionError, KeyError) as err:
        raise UserError(f"robosuite could not build {env_args['env_name']!r} from env_args: {err}") from None


def env_from_env_args(env_args: dict[str, Any], **overrides: Any) -> RobosuiteTaskEnv:
    """This adapter, configured as recorded in ``env_args['equidiff_relaxed']`` (files written by this toolkit)."""
    ours = (env_args or {}).get("equidiff_relaxed") if isinstance(env_args, dict) else None
    if not ours or ours.get("env") not in TASKS:
        raise UserError("env_args carry no equidiff_relaxed task settings; use robosuite_env_from_env_args")
    kwargs = {"action_mode": ours.get("action_mode", "abs"), "layout": ours.get("layout"),
              "max_steps": ours.get("max_steps")}
    return RobosuiteTaskEnv(task=ours["env"], **{**kwargs, **overrides})
