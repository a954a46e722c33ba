"""The policy folder (config.json + model.safetensors): round trips, a golden tiny policy that guards the format,
evaluation from a folder, the PolicyConfig contract, and one clear error per bad folder."""
import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from equidiff_relaxed.errors import UserError
from equidiff_relaxed.eval.evaluate import evaluate
from equidiff_relaxed.policy.config import PolicyConfig
from equidiff_relaxed.policy.diffusion_policy import DiffusionPolicy
from equidiff_relaxed.policy.pretrained import FORMAT_VERSION, checkpoint_to_folder, load_pretrained, save_pretrained
from tests.conftest import run_script
from tests.eval.tiny_policy import save_tiny_push_policy
from tests.policy.conftest import CENTER, make_policy, obs_batch

GOLDEN = Path(__file__).parent / "golden_policy"


def predictions(policy: DiffusionPolicy, push_data, seed: int = 3) -> torch.Tensor:
    noise = torch.randn(3, policy.horizon, policy.action_dim, generator=torch.Generator().manual_seed(seed))
    return policy.eval().predict_action(obs_batch(push_data), noise=noise)


@pytest.mark.parametrize("family", ["relaxed", "dihedral_relaxed", "subgroup", "plain"])
def test_round_trip_gives_the_same_actions(push_data, family, tmp_path):
    policy = make_policy(push_data, family, reflection_axis=0.4)
    with torch.no_grad():
        for _, layer in policy.relaxed_layers():  # learned symmetry breaking must survive the round trip
            layer.relax_weights.add_(0.2 * torch.randn_like(layer.relax_weights))
    folder = save_pretrained(policy, tmp_path / "policy", env={"name": "push", "kwargs": {}})
    assert sorted(p.name for p in Path(folder).iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((Path(folder) / "config.json").read_text())
    assert config["format_version"] == FORMAT_VERSION and config["family"] == family
    assert config["group"]["name"] == ("D8" if family.startswith("dihedral") else "C8")
    assert config["symmetry"] == {"center": list(CENTER), "reflection_axis": policy.reflection_axis}
    assert set(config["normalizer"]) == {"pusher_pos", "puck_pos", "action"}
    assert not any(k.startswith("normalizer.") for k in load_file(str(Path(folder) / "model.safetensors")))
    loaded = load_pretrained(folder)
    assert loaded.config == policy.config and loaded.group == policy.group
    assert torch.equal(predictions(loaded, push_data), predictions(policy, push_data))


def test_golden_tiny_policy_still_loads_and_predicts_the_same(push_data):
    """A folder written once (tests/policy/golden_policy, by make_golden_policy below) and committed: if the format,
    a layer's parameter layout or the sampling code changes, its actions change and this fails."""
    policy = load_pretrained(GOLDEN)
    expected = torch.tensor(json.loads((GOLDEN / "expected_actions.json").read_text()))
    assert torch.allclose(predictions(policy, push_data), expected, atol=1e-5)


def make_golden_policy(push_data, out: Path = GOLDEN) -> None:
    """Regenerate the golden folder (only when the format changes on purpose; bump FORMAT_VERSION then)."""
    policy = make_policy(push_data, "relaxed", denoiser="mlp", denoiser_width=16, denoiser_depth=1,
                         encoder_fields=2, lift_fields=2)
    torch.manual_seed(1)
    with torch.no_grad():
        for _, layer in policy.relaxed_layers():
            layer.relax_weights.add_(0.2 * torch.randn_like(layer.relax_weights))
    save_pretrained(policy, out)
    (out / "expected_actions.json").write_text(json.dumps(predictions(policy, push_data).tolist()))


def test_policy_config_is_declared_once_and_validates():
    import dataclasses
    import inspect

    from jsonargparse import ArgumentParser

    from equidiff_relaxed.train.lightning_module import DiffusionPolicyModule

    module_args = inspect.signature(DiffusionPolicyModule.__init__).parameters
    assert not set(PolicyConfig.names()) & set(module_args)  # not restated in the module's signature
    parser = ArgumentParser(exit_on_error=False)  # what LightningCLI builds for the YAML model: section
    parser.add_class_arguments(DiffusionPolicyModule, "model")
    cli = parser.parse_args(["--model.relax_alpha", "0.01", "--model.down_dims", "[8, 16]"]).model
    for f in dataclasses.fields(PolicyConfig):  # every option reaches the CLI, with the dataclass's default
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        expected = {"relax_alpha": 0.01, "down_dims": [8, 16]}.get(f.name, default)
        assert cli[f.name] == expected, f.name
    module = DiffusionPolicyModule(model="equi", lr=3e-4)
    assert module.config == PolicyConfig(model="equi")  # defaults filled in, recorded whole in the hyperparameters
    assert {k: v for k, v in module.hparams.items() if k in PolicyConfig.names()} == PolicyConfig(model="equi").to_dict()
    assert not set(PolicyConfig.family_option_names()) & set(module.hparams)  # equi takes none of its own
    with pytest.raises(UserError, match="bad model config: unknown policy option.*group_ordr"):
        DiffusionPolicyModule(group_ordr=4)
    with pytest.raises(ValueError, match="unknown policy option.*group_ordr"):
        PolicyConfig.from_dict({"group_ordr": 4})
    with pytest.raises(ValueError, match="subgroup_order 3 must divide group_order 8"):
        PolicyConfig(model="subgroup", subgroup_order=3)
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        PolicyConfig(model="nope")
    assert PolicyConfig.from_dict(PolicyConfig(model="equi").to_dict()) == PolicyConfig(model="equi")


def test_eval_takes_a_policy_folder_with_the_checkpoints_results(tmp_path):
    ckpt = save_tiny_push_policy(tmp_path / "tiny.ckpt", {"max_steps": 10}, n_action_steps=4)
    folder = checkpoint_to_folder(ckpt, tmp_path / "tiny_policy")
    runs = [evaluate([p], tmp_path / name, n_regions=2, episodes_per_region=1, n_envs=1, progress=False)
            for p, name in ((ckpt, "a"), (str(folder), "b"))]
    a, b = (r["checkpoints"][0] for r in runs)
    assert a.model == b.model == "plain" and b.env == "push"
    assert a.episodes == b.episodes


def broken_folders(push_data, root: Path) -> dict[str, tuple[Path, str]]:
    good = save_pretrained(make_policy(push_data, "equi"), root / "good")
    cases = {}

    def variant(name: str, edit) -> Path:
        folder = root / name
        folder.mkdir()
        for f in Path(good).iterdir():
            (folder / f.name).write_bytes(f.read_bytes())
        edit(folder)
        return folder

    def set_config(key, value):
        def edit(folder):
            config = json.loads((folder / "config.json").read_text())
            config[key] = value
            (folder / "config.json").write_text(json.dumps(config))
        return edit

    cases["no_config"] = (variant("no_config", lambda f: (f / "config.json").unlink()), "not a policy folder \\(no config.json")
    cases["no_weights"] = (variant("no_weights", lambda f: (f / "model.safetensors").unlink()),
                           "has no model.safetensors")
    cases["family"] = (variant("family", set_config("family", "hyper")), "unknown model 'hyper'")
    cases["group"] = (variant("group", set_config("group", {"name": "Q8"})), "unknown group 'Q8'")
    cases["newer"] = (variant("newer", set_config("format_version", FORMAT_VERSION + 1)),
                      f"format_version {FORMAT_VERSION + 1} is newer")
    cases["corrupt"] = (variant("corrupt", lambda f: (f / "model.safetensors").write_bytes(b"\x00" * 64)),
                        "not a readable safetensors file")
    def nan_scale(folder):
        config = json.loads((folder / "config.json").read_text())
        config["normalizer"]["puck_pos"]["scale"][0] = math.nan
        (folder / "config.json").write_text(json.dumps(config))

    cases["nan"] = (variant("nan", nan_scale), "normalizer 'puck_pos' contains NaN")
    return cases


def test_bad_policy_folders_give_one_clear_error(push_data, tmp_path):
    for name, (folder, message) in broken_folders(push_data, tmp_path).items():
        with pytest.raises(UserError, match=message):
            load_pretrained(folder)
    with pytest.raises(UserError, match="no such policy folder"):
        load_pretrained(tmp_path / "missing")
    (tmp_path / "cli").mkdir()
    folder, message = broken_folders(push_data, tmp_path / "cli")["newer"]
    proc = run_script("eval.py", "--checkpoint", str(folder), "--out", str(tmp_path / "o"))
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


@pytest.mark.slow
def test_loading_a_checkpoint_or_a_policy_folder_needs_no_lightning(tmp_path):
    """checkpoint.py is a leaf reader: it rebuilds the policy from the stored config, not a LightningModule; and
    evaluation (rollouts, reports) imports no Lightning either."""
    import subprocess
    import sys

    ckpt = save_tiny_push_policy(tmp_path / "tiny.ckpt", {"max_steps": 20}, 4)
    folder = checkpoint_to_folder(ckpt, tmp_path / "policy")
    code = ("import sys\n"
            "from equidiff_relaxed.policy.checkpoint import load_policy\n"
            "from equidiff_relaxed.policy.pretrained import load_pretrained\n"
            "import equidiff_relaxed.eval.evaluate\n"
            f"a, b = load_policy({str(ckpt)!r}), load_pretrained({str(folder)!r})\n"
            "assert a.config == b.config and not a.training\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning'))\n"
            "print(loaded)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


LEGACY = Path(__file__).parent / "legacy_checkpoint"


def test_a_checkpoint_written_before_families_had_their_own_options_still_loads_and_acts_the_same():
    """tests/policy/legacy_checkpoint: a tiny gated policy's Lightning checkpoint written by the code before families
    were modules (make_legacy.py, run at commit 737afd1): its hyperparameters record every family's options, its
    gate is a submodule named ``gate``. It loads, refuses nothing, and predicts the actions it predicted then."""
    import json

    from equidiff_relaxed.policy.checkpoint import load_policy

    expected = json.loads((LEGACY / "expected_actions.json").read_text())
    assert expected["hyper_parameters_have"] == ["gate_alpha", "local_alpha", "relax_alpha"]  # foreign options too
    policy = load_policy(LEGACY / "tiny_gated.lightning")
    assert policy.model_family == "gated" and policy.config.relax_alpha is None and policy.config.gate_alpha == 0.01
    obs = {k: torch.tensor(v) for k, v in expected["obs"].items()}
    actions = policy.predict_action(obs, noise=torch.tensor(expected["noise"]))
    assert torch.allclose(actions, torch.tensor(expected["actions"]), atol=1e-6)
