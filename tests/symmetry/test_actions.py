import math

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from equidiff_relaxed.symmetry import parse_rep, rotate_field, rotate_image
from equidiff_relaxed.symmetry.rotations import matrix_to_rot6d, rot6d_to_matrix

CENTER = (0.4, -0.3)
REPS = {"scalar": 3, "pos2": 2, "vec2": 2, "pos3": 3, "rot6d": 6, "quat": 4, "angle": 1,
        "pos3+rot6d+scalar": 10, "pos2+vec2+angle+scalar:2": 7}


def sample(rep: str, n: int, rng: np.random.Generator) -> np.ndarray:
    """Valid values of a representation: unit quaternions, rotation-matrix columns, wrapped angles."""
    parts = []
    for f in parse_rep(rep, REPS[rep]):
        if f.rep == "quat":
            parts.append(Rotation.random(n, random_state=1).as_quat())
        elif f.rep == "rot6d":
            parts.append(matrix_to_rot6d(Rotation.random(n, random_state=2).as_matrix()))
        elif f.rep == "angle":
            parts.append(rng.uniform(-math.pi, math.pi, size=(n, 1)))
        else:
            parts.append(rng.normal(size=(n, f.dim)))
    return np.concatenate(parts, axis=1)


def same(a: np.ndarray, b: np.ndarray, rep: str) -> bool:
    """Equal as group elements: quaternions up to sign, angles up to 2pi."""
    a, b = np.asarray(a), np.asarray(b)
    for f in parse_rep(rep, a.shape[-1]):
        x, y = a[..., f.start:f.stop], b[..., f.start:f.stop]
        if f.rep == "quat":
            ok = np.minimum(np.abs(x - y).max(-1), np.abs(x + y).max(-1)) < 1e-9
        elif f.rep == "angle":
            d = (x - y + math.pi) % (2 * math.pi) - math.pi
            ok = np.abs(d).max(-1) < 1e-9
        else:
            ok = np.abs(x - y).max(-1) < 1e-9
        if not np.all(ok):
            return False
    return True


@pytest.mark.parametrize("rep", list(REPS))
def test_identity_inverse_composition(rep):
    rng = np.random.default_rng(0)
    x = sample(rep, 16, rng)
    a, b = 0.7, -2.1
    assert same(rotate_field(x, rep, 0.0, CENTER), x, rep)
    assert same(rotate_field(rotate_field(x, rep, a, CENTER), rep, -a, CENTER), x, rep)
    assert same(rotate_field(rotate_field(x, rep, a, CENTER), rep, b, CENTER), rotate_field(x, rep, a + b, CENTER), rep)
    assert same(rotate_field(x, rep, 2 * math.pi, CENTER), x, rep)
    if rep not in ("scalar",):
        assert not same(rotate_field(x, rep, a, CENTER), x, rep), "a non-trivial rotation must change the field"


@pytest.mark.parametrize("rep", list(REPS))
def test_torch_matches_numpy_and_per_sample_angles(rep):
    rng = np.random.default_rng(1)
    x = sample(rep, 8, rng)
    phi = rng.uniform(-3, 3, size=8)
    out_np = rotate_field(x, rep, phi, CENTER)
    out_t = rotate_field(torch.tensor(x), rep, torch.tensor(phi), CENTER)
    assert isinstance(out_t, torch.Tensor)
    assert np.allclose(out_np, out_t.numpy(), atol=1e-12)
    for i in range(8):
        assert same(out_np[i], rotate_field(x[i], rep, float(phi[i]), CENTER), rep)


def test_pos2_rotates_about_centre_and_vec2_about_origin():
    c = np.array(CENTER)
    assert np.allclose(rotate_field(c, "pos2", 1.3, CENTER), c)
    p = c + np.array([1.0, 0.0])
    assert np.allclose(rotate_field(p, "pos2", math.pi / 2, CENTER), c + np.array([0.0, 1.0]))
    assert np.allclose(rotate_field(np.array([1.0, 0.0]), "vec2", math.pi / 2, CENTER), [0.0, 1.0])
    # a displacement between two points rotates like vec2
    q = c + np.array([0.2, -0.5])
    d = rotate_field(q, "pos2", 0.9, CENTER) - rotate_field(p, "pos2", 0.9, CENTER)
    assert np.allclose(d, rotate_field(q - p, "vec2", 0.9))


def test_pos3_keeps_height():
    x = np.array([1.0, 2.0, 3.0])
    y = rotate_field(x, "pos3", 0.5, CENTER)
    assert y[2] == 3.0
    assert np.allclose(y[:2], rotate_field(x[:2], "pos2", 0.5, CENTER))


def test_quat_agrees_with_rotating_the_matrix():
    q = Rotation.random(20, random_state=3).as_quat()
    for phi in (0.3, -1.9, math.pi):
        rz = Rotation.from_euler("z", phi).as_matrix()
        expected = rz @ Rotation.from_quat(q).as_matrix()
        got = Rotation.from_quat(rotate_field(q, "quat", phi)).as_matrix()
        assert np.allclose(got, expected, atol=1e-12)


def test_rot6d_agrees_with_rotating_the_matrix_and_with_quat():
    rot = Rotation.random(20, random_state=4)
    m = rot.as_matrix()
    r6 = matrix_to_rot6d(m)
    assert np.allclose(rot6d_to_matrix(r6), m, atol=1e-12)
    phi = 1.1
    rz = Rotation.from_euler("z", phi).as_matrix()
    assert np.allclose(rotate_field(r6, "rot6d", phi), matrix_to_rot6d(rz @ m), atol=1e-12)
    # both encodings of the same orientation stay consistent under the action
    q_rot = rotate_field(rot.as_quat(), "quat", phi)
    assert np.allclose(rot6d_to_matrix(rotate_field(r6, "rot6d", phi)), Rotation.from_quat(q_rot).as_matrix(),
                       atol=1e-12)
    assert torch.allclose(rot6d_to_matrix(torch.tensor(r6)), torch.tensor(m), atol=1e-12)


def test_rot6d_round_trip_and_gram_schmidt():
    m = Rotation.from_euler("xyz", [0.3, -1.0, 2.0]).as_matrix()
    assert np.allclose(rot6d_to_matrix(matrix_to_rot6d(m)), m)
    noisy = matrix_to_rot6d(m) + 0.01
    out = rot6d_to_matrix(noisy)
    assert np.allclose(out.T @ out, np.eye(3), atol=1e-9) and np.linalg.det(out) == pytest.approx(1.0)
    assert np.all(np.isfinite(rot6d_to_matrix(np.zeros(6))))  # degenerate columns: zeros, not NaN


def test_angle_wraps():
    out = rotate_field(np.array([3.0]), "angle", 1.0)
    assert -math.pi <= out[0] < math.pi
    assert math.isclose(out[0], 4.0 - 2 * math.pi)


def test_image_rotation_moves_pixels_like_positions():
    n = 8
    img = np.zeros((3, n, n), dtype=np.uint8)
    img[:, 3, 7] = 200  # right of centre (world +x), slightly above the middle row
    out = rotate_image(img, math.pi / 2)
    # +90 degrees counter-clockwise: world +x goes to world +y (top of the image)
    row, col = np.argwhere(out[0] == 200)[0]
    assert (row, col) == (0, 3)
    # channels-last and torch give the same result
    hwc = np.moveaxis(img, 0, -1)
    assert np.array_equal(np.moveaxis(rotate_image(hwc, math.pi / 2, channels_last=True), -1, 0), out)
    assert np.array_equal(rotate_image(torch.from_numpy(img), math.pi / 2).numpy(), out)


def test_image_rotation_group_laws_and_bilinear_path():
    rng = np.random.default_rng(5)
    img = rng.random((2, 3, 10, 10)).astype(np.float32)
    assert np.array_equal(rotate_image(img, 0.0), img)
    quarter = rotate_image(img, math.pi / 2)
    assert np.array_equal(rotate_image(rotate_image(quarter, math.pi), math.pi / 2), img)
    assert np.array_equal(rotate_image(quarter, -math.pi / 2), img)
    # the interpolating path agrees with the exact permutation at 90 degrees
    nearly_quarter = rotate_image(img, math.pi / 2 + 1e-7)
    assert np.allclose(nearly_quarter, quarter, atol=1e-4)
    # an arbitrary angle keeps the centre pixel block's mass roughly and changes the image
    odd = rotate_image(img, 0.4)
    assert odd.shape == img.shape and not np.allclose(odd, img)


@pytest.mark.parametrize("rep, width, message", [
    ("pos4", 4, "unknown representation"),
    ("pos2+vec2", 5, "covers 4 entries"),
    ("scalar+scalar", 4, "more than one 'scalar'"),
    ("image+pos2", 2, "cannot be combined"),
    ("pos3", 2, "covers 3 entries"),
])
def test_bad_representations(rep, width, message):
    with pytest.raises(ValueError, match=message):
        parse_rep(rep, width)


def test_rotate_field_refuses_images():
    with pytest.raises(ValueError, match="rotate_image"):
        rotate_field(np.zeros((3, 4, 4)), "image", 0.1)
