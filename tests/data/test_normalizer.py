import io

import numpy as np
import pytest
import torch

from equidiff_relaxed.data.normalizer import Normalizer
from equidiff_relaxed.symmetry import parse_rep, rotate_field
from equidiff_relaxed.symmetry.rotations import matrix_to_rot6d
from scipy.spatial.transform import Rotation

CENTER = (0.5, -0.25)


def test_limits_maps_to_unit_interval_and_centres_constant_dims():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-3, 7, size=(200, 2)), np.full((200, 1), 4.2)], axis=1)
    n = Normalizer().fit({"a": x}, "limits")
    y = n.normalize(torch.tensor(x, dtype=torch.float32), "a")
    assert torch.allclose(y[:, :2].min(0).values, torch.tensor([-1.0, -1.0]), atol=1e-6)
    assert torch.allclose(y[:, :2].max(0).values, torch.tensor([1.0, 1.0]), atol=1e-6)
    assert torch.all(torch.isfinite(y)) and torch.allclose(y[:, 2], torch.zeros(200))
    assert torch.allclose(n.unnormalize(y, "a"), torch.tensor(x, dtype=torch.float32), atol=1e-5)


def test_gaussian_and_identity():
    rng = np.random.default_rng(1)
    x = rng.normal(loc=3.0, scale=2.0, size=(5000, 3))
    x[:, 2] = -1.0
    n = Normalizer().fit({"g": x, "i": x}, {"g": "gaussian", "i": "identity"})
    y = n.normalize({"g": torch.tensor(x), "i": torch.tensor(x), "other": torch.ones(2)})
    assert torch.allclose(y["g"][:, :2].mean(0), torch.zeros(2, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(y["g"][:, :2].std(0), torch.ones(2, dtype=torch.float64), atol=1e-3)
    assert torch.allclose(y["g"][:, 2], torch.zeros(5000, dtype=torch.float64))
    assert torch.equal(y["i"], torch.tensor(x)) and torch.equal(y["other"], torch.ones(2))


def sample_composite(n: int) -> tuple[str, np.ndarray]:
    rng = np.random.default_rng(2)
    rep = "pos2+pos3+vec2+rot6d+quat+angle+scalar:2"
    parts = [
        np.asarray(CENTER) + rng.normal(size=(n, 2)),
        np.concatenate([np.asarray(CENTER) + rng.normal(size=(n, 2)), rng.uniform(0.8, 1.2, size=(n, 1))], 1),
        rng.normal(scale=0.1, size=(n, 2)),
        matrix_to_rot6d(Rotation.random(n, random_state=3).as_matrix()),
        Rotation.random(n, random_state=4).as_quat(),
        rng.uniform(-np.pi, np.pi, size=(n, 1)),
        rng.uniform(0, 0.08, size=(n, 2)),
    ]
    return rep, np.concatenate(parts, axis=1)


@pytest.mark.parametrize("phi", [0.3, np.pi / 2, -2.5])
def test_symmetric_mode_commutes_with_rotation(phi):
    rep, x = sample_composite(300)
    n = Normalizer().fit({"f": x}, {"f": "symmetric"}, reps={"f": parse_rep(rep, x.shape[1])}, center=CENTER)
    t = torch.tensor(x)
    lhs = n.normalize(rotate_field(t, rep, phi, CENTER), "f")
    rhs = rotate_field(n.normalize(t, "f"), rep, phi)  # in normalised space the centre is the origin
    assert torch.allclose(lhs, rhs, atol=1e-5)
    # ... which a per-dimension 'limits' fit does not satisfy
    m = Normalizer().fit({"f": x}, "limits")
    assert not torch.allclose(m.normalize(rotate_field(t, rep, phi, CENTER), "f"),
                              rotate_field(m.normalize(t, "f"), rep, phi), atol=1e-3)


def test_symmetric_mode_scales():
    rep, x = sample_composite(300)
    n = Normalizer().fit({"f": x}, {"f": "symmetric"}, reps={"f": parse_rep(rep, x.shape[1])}, center=CENTER)
    y = n.normalize(torch.tensor(x), "f").numpy()
    assert np.isclose(np.linalg.norm(y[:, 0:2], axis=1).max(), 1.0)  # pos2: unit radius about the centre
    assert np.isclose(np.linalg.norm(y[:, 5:7], axis=1).max(), 1.0)  # vec2: unit norm bound
    assert np.allclose(y[:, 7:18], x[:, 7:18], atol=1e-6)  # rot6d, quat, angle unchanged (float32 buffers)
    assert np.isclose(y[:, 4].min(), -1) and np.isclose(y[:, 4].max(), 1)  # pos3's z: limits


def test_state_dict_round_trip_into_a_fresh_module_with_weights_only_load():
    x = np.random.default_rng(3).normal(size=(50, 2))
    n = Normalizer().fit({"action": x, "obs": x[:, :1]}, "gaussian")
    buf = io.BytesIO()
    torch.save(n.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    fresh = Normalizer()
    fresh.load_state_dict(state)
    t = torch.tensor(x, dtype=torch.float32)
    assert torch.equal(fresh.normalize(t, "action"), n.normalize(t, "action"))
    # also when nested inside a model
    model = torch.nn.Module()
    model.normalizer = Normalizer()
    model.load_state_dict({f"normalizer.{k}": v for k, v in state.items()})
    assert torch.equal(model.normalizer.unnormalize(t, "action"), n.unnormalize(t, "action"))


def test_bad_fit_inputs():
    x = np.zeros((4, 2))
    with pytest.raises(ValueError, match="unknown normalizer mode"):
        Normalizer().fit({"a": x}, "minmax")
    with pytest.raises(ValueError, match="needs its representation"):
        Normalizer().fit({"a": x}, "symmetric")
    with pytest.raises(ValueError, match="NaN"):
        Normalizer().fit({"a": np.array([[np.nan, 0.0]])}, "limits")
    with pytest.raises(KeyError, match="no entry for 'b'"):
        Normalizer().fit({"a": x}).normalize(torch.zeros(2), "b")
