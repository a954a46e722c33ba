"""robosuite and robomimic in one place: the Lift / Stack tasks with their expert and failure analysis, a robomimic /
MimicGen dataset's own env rebuilt from its ``env_args``, and the robomimic HDF5 layout (conversion to our zarr
buffer, export back, 10-D absolute actions). robosuite itself is imported only when one of its envs is made."""
from __future__ import annotations

# registration order: lift, stack (imported by robomimic_env), then robomimic
from equidiff_relaxed.envs.robosuite import robomimic_env  # noqa: F401
