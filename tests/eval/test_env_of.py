"""Evaluation rebuilds the env a policy's dataset records, with every recorded setting."""
import pytest

from equidiff_relaxed.envs.registry import make_env
from equidiff_relaxed.errors import UserError
from equidiff_relaxed.eval.evaluate import env_of


def test_a_moved_pillar_dataset_is_evaluated_with_its_pillar():
    recorded = make_env("push-pillar", geometry={"pillar_radius": 0.07, "pillar_angle": 1.0})
    attrs = recorded.dataset_attrs()["env"]
    recorded.close()
    name, kwargs = env_of(attrs, None, "moved.zarr")
    env = make_env(name, **kwargs)
    try:
        assert name == "push-pillar"
        assert (env.geom.pillar_radius, env.geom.pillar_angle) == (0.07, 1.0)
    finally:
        env.close()


def test_converted_robomimic_datasets_are_evaluated_in_their_own_env():
    attrs = {"name": "Lift", "type": 1, "kwargs": {"robots": ["Panda"]}, "source": "robomimic"}
    name, kwargs = env_of(attrs, None, "lift.zarr")
    assert name == "robomimic"
    assert kwargs == {"env_args": {"env_name": "Lift", "type": 1, "env_kwargs": {"robots": ["Panda"]}}}
    with pytest.raises(UserError, match="the checkpoint records no env; pass --env"):
        env_of({}, None, "nothing.ckpt")
    with pytest.raises(UserError, match="--env robomimic needs a policy trained on a converted robomimic dataset"):
        env_of({"name": "push"}, "robomimic", "push.ckpt")
