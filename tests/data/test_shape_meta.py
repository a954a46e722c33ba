import pytest

from equidiff_relaxed.data.replay_buffer import ReplayBuffer
from equidiff_relaxed.data.shape_meta import ShapeMeta
from equidiff_relaxed.errors import UserError

GOOD = {
    "obs": {
        "pusher_pos": {"shape": [2], "type": "low_dim", "rep": "pos2"},
        "agentview": {"shape": [3, 88, 88], "type": "rgb", "rep": "image"},
        "eef": {"shape": [10], "rep": ["pos3", "rot6d", "scalar"]},
    },
    "action": {"shape": [10], "rep": "pos3+rot6d+scalar"},
}


def test_parse_and_describe():
    meta = ShapeMeta.from_dict(GOOD)
    assert meta.low_dim_keys == ["pusher_pos", "eef"] and meta.rgb_keys == ["agentview"]
    assert meta.obs["agentview"].stored_shape == (88, 88, 3)
    assert [f.rep for f in meta.action.fields] == ["pos3", "rot6d", "scalar"]
    assert [(f.start, f.stop) for f in meta.action.fields] == [(0, 3), (3, 9), (9, 10)]
    assert ShapeMeta.from_dict(meta.to_dict()) == meta


def test_round_trip_through_zarr_attrs(tmp_path):
    buf = ReplayBuffer.create_empty()
    import numpy as np

    buf.add_episode({"pusher_pos": np.zeros((3, 2)), "agentview": np.zeros((3, 88, 88, 3), np.uint8),
                     "eef": np.zeros((3, 10)), "action": np.zeros((3, 10))})
    meta = ShapeMeta.from_dict(GOOD)
    buf.set_attrs(shape_meta=meta)
    out = buf.save(tmp_path / "m.zarr")
    back = ReplayBuffer.open(out)
    assert back.shape_meta == meta
    meta.check_arrays(back.step_shapes())


def test_load_yaml_file(tmp_path):
    p = tmp_path / "meta.yaml"
    p.write_text("shape_meta:\n  obs:\n    a: {shape: [2], rep: vec2}\n  action: {shape: [1], rep: angle}\n")
    assert ShapeMeta.load(p).obs["a"].rep == "vec2"
    p.write_text("obs: [unclosed\n")
    with pytest.raises(UserError, match="not valid YAML"):
        ShapeMeta.load(p)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["obs"]["pusher_pos"].update(rep="position"), "unknown representation 'position'"),
    (lambda d: d["obs"]["pusher_pos"].update(shape=[3]), "covers 2 entries but the field has 3"),
    (lambda d: d["obs"]["agentview"].update(shape=[88, 88, 3]), r"rgb shape must be \[C, H, W\]"),
    (lambda d: d["obs"]["agentview"].update(type="depth"), "unknown type 'depth'"),
    (lambda d: d["obs"]["pusher_pos"].pop("rep"), "missing 'rep'"),
    (lambda d: d.pop("action"), "needs 'obs' and 'action'"),
    (lambda d: d["obs"]["eef"].update(shape=[-1]), "positive integers"),
    (lambda d: d["obs"]["agentview"].update(rep="pos2"), "rgb fields take rep 'image' .* 'camera' .* or 'camera_inhand'"),
    (lambda d: d["obs"]["pusher_pos"].update(rep="camera"), "rep 'camera' needs type rgb"),
])
def test_bad_shape_meta(change, message):
    import copy

    d = copy.deepcopy(GOOD)
    change(d)
    with pytest.raises(UserError, match=message):
        ShapeMeta.from_dict(d, source="cfg.yaml")


def test_image_and_camera_keys():
    import copy

    d = copy.deepcopy(GOOD)
    d["obs"]["wrist"] = {"shape": [3, 64, 64], "type": "rgb", "rep": "camera"}
    meta = ShapeMeta.from_dict(d)
    assert meta.top_down_keys == ["agentview"] and meta.camera_keys == ["wrist"]
    assert meta.rgb_keys == ["agentview", "wrist"]


def test_check_arrays_names_mismatches():
    meta = ShapeMeta.from_dict(GOOD)
    shapes = {"pusher_pos": (2,), "agentview": (88, 88, 3), "eef": (10,), "action": (10,)}
    meta.check_arrays(shapes)
    with pytest.raises(UserError, match="declares 'eef' but the data has no such key"):
        meta.check_arrays({k: v for k, v in shapes.items() if k != "eef"}, source="d.zarr")
    with pytest.raises(UserError, match=r"stored with per-step shape \(84, 84, 3\)"):
        meta.check_arrays({**shapes, "agentview": (84, 84, 3)}, source="d.zarr")


def test_shipped_example_parses(repo):
    meta = ShapeMeta.load(repo / "configs/shape_meta/robomimic_lift_abs.yaml")
    assert [f.rep for f in meta.action.fields] == ["pos3", "rot6d", "scalar"]
    assert meta.obs["object"].fields[2].rep == "vec2" and meta.obs["robot0_gripper_qpos"].rep == "scalar:2"
