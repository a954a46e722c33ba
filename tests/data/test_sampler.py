import numpy as np
import pytest
import zarr

from equidiff_relaxed.data.sampler import SequenceSampler, create_windows
from equidiff_relaxed.errors import UserError


def make_arrays(lengths):
    """action[t] = (episode, step) and obs[t] = 100 * episode + step, so every value says where it came from."""
    ep = np.concatenate([np.full(n, i) for i, n in enumerate(lengths)])
    step = np.concatenate([np.arange(n) for n in lengths])
    arrays = {"action": np.stack([ep, step], axis=1).astype(np.float32), "obs": (100 * ep + step)[:, None].astype(np.float32)}
    return arrays, np.cumsum(lengths)


def test_window_count_and_range():
    lengths = [5, 9, 3]
    T, To, Ta = 6, 2, 3
    w = create_windows(np.cumsum(lengths), T, To - 1, Ta - 1)
    per_ep = [max(0, n + (To - 1) + (Ta - 1) - T + 1) for n in lengths]
    assert len(w) == sum(per_ep)
    first = w[0]
    assert first.tolist() == [0, 5, -1]  # starts To-1 before the first step
    ep0 = w[w[:, 0] == 0]
    assert ep0[-1, 2] == 5 - T + (Ta - 1)  # last window ends Ta-1 past the last step


def test_edge_padding_values():
    lengths = [5, 9]
    arrays, ends = make_arrays(lengths)
    s = SequenceSampler(arrays, ends, horizon=6, n_obs_steps=3, n_action_steps=4, obs_keys=["obs"])
    first = s.sample(0)
    # window starts 2 steps before episode 0: the first step is repeated
    assert first["obs"][:, 0].tolist() == [0, 0, 0]
    assert first["action"][:, 1].tolist() == [0, 0, 0, 1, 2, 3]
    assert first["obs"].shape == (3, 1) and first["action"].shape == (6, 2)
    # last window of episode 0 repeats its last step (4) and never reads episode 1
    ep0 = [i for i in range(len(s)) if s.windows[i, 0] == 0]
    last = s.sample(ep0[-1])
    assert np.all(last["action"][:, 0] == 0)
    assert last["action"][:, 1].tolist() == [2, 3, 4, 4, 4, 4]
    # a window of episode 1 reads only episode 1
    for i in range(len(s)):
        out = s.sample(i)
        episode = 0 if s.windows[i, 0] == 0 else 1
        assert np.all(out["action"][:, 0] == episode)
        assert np.all(out["obs"][:, 0] // 100 == episode)


def test_only_first_to_observation_frames_are_read():
    class CountingArray:
        def __init__(self, a):
            self.a, self.rows = a, 0

        def __getitem__(self, sl):
            out = self.a[sl]
            self.rows += len(out)
            return out

    arrays, ends = make_arrays([20])
    counting = CountingArray(arrays["obs"])
    s = SequenceSampler({"obs": counting, "action": arrays["action"]}, ends, horizon=10, n_obs_steps=2,
                        n_action_steps=8, obs_keys=["obs"])
    s.sample(5)
    assert counting.rows == 2


def test_zarr_arrays_match_numpy():
    arrays, ends = make_arrays([7, 4, 11])
    z = {k: zarr.array(v, chunks=(3, v.shape[1])) for k, v in arrays.items()}
    a = SequenceSampler(arrays, ends, 8, 2, 4, ["obs"])
    b = SequenceSampler(z, ends, 8, 2, 4, ["obs"])
    assert len(a) == len(b)
    for i in range(len(a)):
        x, y = a.sample(i), b.sample(i)
        assert all(np.array_equal(x[k], y[k]) for k in x)


def test_episode_subset_only():
    arrays, ends = make_arrays([6, 6, 6])
    s = SequenceSampler(arrays, ends, 4, 2, 2, ["obs"], episodes=[2])
    assert len(s) > 0 and all(s.sample(i)["action"][0, 0] == 2 for i in range(len(s)))


@pytest.mark.parametrize("T, To, Ta", [(4, 0, 2), (4, 5, 1), (4, 2, 4), (4, 2, 0)])
def test_bad_horizons(T, To, Ta):
    arrays, ends = make_arrays([6])
    with pytest.raises(UserError):
        SequenceSampler(arrays, ends, T, To, Ta, ["obs"])


def test_missing_key():
    arrays, ends = make_arrays([6])
    with pytest.raises(UserError, match="no key 'rgb'"):
        SequenceSampler(arrays, ends, 4, 2, 2, ["rgb"])


@pytest.mark.parametrize("T,To,Ta", [(8, 2, 4), (16, 2, 8), (6, 3, 1)])
def test_full_padding_makes_every_state_some_windows_now(T, To, Ta):
    """Default pad_after = T - To: each state of each episode is the current observation (window step To-1) of
    exactly one window, including the last ones; the padded actions after the end hold the last action."""
    lengths = [3, 13, 7]
    arrays, ends = make_arrays(lengths)
    s = SequenceSampler(arrays, ends, horizon=T, n_obs_steps=To, n_action_steps=Ta, obs_keys=["obs"])
    nows = sorted(int(s.sample(i)["obs"][-1, 0]) for i in range(len(s)))
    assert nows == sorted(100 * e + t for e, n in enumerate(lengths) for t in range(n))
    last_now = [i for i in range(len(s)) if s.sample(i)["obs"][-1, 0] == 100 * 1 + 12][0]
    assert s.sample(last_now)["action"][To - 1 :, 1].tolist() == [12] * (T - To + 1)  # "hold"


def test_diffusion_policy_padding_never_makes_the_last_states_now():
    T, To, Ta = 8, 2, 4
    lengths = [13]
    arrays, ends = make_arrays(lengths)
    s = SequenceSampler(arrays, ends, horizon=T, n_obs_steps=To, n_action_steps=Ta, obs_keys=["obs"],
                        pad_after="diffusion_policy")
    nows = {int(s.sample(i)["obs"][-1, 0]) for i in range(len(s))}
    assert nows == set(range(13 - (T - To - Ta + 1)))  # the last T - To - Ta + 1 = 3 states are missing


def test_unknown_pad_after_is_a_user_error():
    arrays, ends = make_arrays([5])
    with pytest.raises(UserError, match="unknown pad_after 'tail'"):
        SequenceSampler(arrays, ends, horizon=6, n_obs_steps=2, n_action_steps=2, obs_keys=["obs"], pad_after="tail")
