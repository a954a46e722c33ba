"""robosuite envs from a robomimic file's ``env_args``: replay stored states, move datasets between tools.

``robosuite_env_from_env_args`` builds the bare robosuite env any robomimic file for robosuite 1.5 describes;
``env_from_env_args`` rebuilds this toolkit's adapter (theta layouts, our observation and action forms) from the
``equidiff_relaxed`` block that our generator and exporter add to ``env_args``. Files written with robosuite <= 1.4
carry part-controller configs; :func:`translate_controller_configs` and :func:`with_controller` give them robosuite
1.5's composite form with the same meaning.
"""
from __future__ import annotations

import copy
from typing import Any

from equidiff_relaxed.envs.robosuite.tasks import TASKS, RobosuiteTaskEnv, import_robosuite, make_robosuite
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


def _robot_name(env_kwargs: dict[str, Any]) -> str:
    robots = env_kwargs.get("robots", "Panda")
    if isinstance(robots, (list, tuple)):
        if len(robots) != 1:
            raise UserError(f"only single-arm datasets are supported (env_kwargs.robots = {robots!r})")
        robots = robots[0]
    return str(robots)


def translate_controller_configs(config: Any, robot: str, absolute: bool | None = None) -> dict[str, Any]:
    """A robosuite 1.5 composite controller config for ``config`` as a dataset recorded it.

    robosuite <= 1.4 part configs (``{"type": "OSC_POSE", ..., "control_delta": bool}``) become the robot's BASIC
    composite config with that arm part; ``control_delta`` becomes ``input_type`` (delta / absolute) in the world
    frame, as robosuite 1.4 read it. 1.5 configs pass unchanged. ``absolute`` (when not None) forces the arm's input
    type (10-D absolute-action policies need an absolute controller).
    """
    import_robosuite()
    from robosuite.controllers.composite.composite_controller_factory import (load_composite_controller_config,
                                                                              refactor_composite_controller_config)

    if config is None:
        config = load_composite_controller_config(controller="BASIC", robot=robot)
    if not isinstance(config, dict):
        raise UserError(f"env_kwargs.controller_configs must be a JSON object, got {type(config).__name__}")
    config = copy.deepcopy(config)
    legacy = "body_parts" not in config
    if legacy:
        delta = config.pop("control_delta", True)
        config.setdefault("input_type", "delta" if delta else "absolute")
        config.setdefault("input_ref_frame", "world")
        config = refactor_composite_controller_config(config, robot, ["right"])
        parts = config["body_parts"]
        parts.pop("arms", None)  # the robot's default arms entry is replaced by the recorded arm
    if absolute is not None:
        arm = config.get("body_parts", {}).get("right")
        if arm is None:
            raise UserError("the recorded controller has no right arm part to drive")
        arm["input_type"] = "absolute" if absolute else "delta"
        arm["input_ref_frame"] = "world"
    return config


def with_controller(env_args: dict[str, Any], absolute: bool | None = None) -> dict[str, Any]:
    """``env_args`` with its controller config in robosuite 1.5 form (:func:`translate_controller_configs`;
    ``absolute`` forces the arm's input type)."""
    kwargs = dict(env_args.get("env_kwargs") or {})
    kwargs["controller_configs"] = translate_controller_configs(kwargs.get("controller_configs"), _robot_name(kwargs),
                                                                absolute=absolute)
    return {**env_args, "env_kwargs": kwargs}
