#!/usr/bin/env bash
# Create .venv and install equidiff-relaxed with its extras (default EXTRAS=test,robosuite; EXTRAS=test skips
# robosuite, whose tests then skip). Called by `make`; safe to re-run.
#
# torch: a torch the base Python already has (e.g. a CUDA build, in a conda env or another venv) is kept: a .pth file
# puts its site-packages folder on the venv's path, after the venv's own packages. Otherwise torch==$TORCH_VERSION is installed: from a local wheel when pip finds one, else from
# the official CPU index on machines without an NVIDIA driver (never the multi-GB CUDA wheels), else from PyPI.
# escnn is installed with --no-deps: its py3nj dependency needs a Fortran compiler and is only used for SO(3).
set -euo pipefail
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
ESCNN_VERSION=${ESCNN_VERSION:-1.0.11}
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
CONSTRAINTS=${CONSTRAINTS:-requirements/cpu-constraints.txt}
EXTRAS=${EXTRAS:-test,robosuite}

if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV"
  if "$PYTHON" -c "import torch" >/dev/null 2>&1; then
    torch_site=$("$PYTHON" -c 'import os, torch; print(os.path.dirname(os.path.dirname(torch.__file__)))')
    venv_site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    echo "$torch_site" > "$venv_site/_user_torch.pth"
    echo "setup: keeping the torch of $PYTHON ($("$PYTHON" -c 'import torch; print(torch.__version__)') in $torch_site)"
  fi
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)

if ! "$VENV/bin/python" -c "import torch" >/dev/null 2>&1; then
  if command -v nvidia-smi >/dev/null 2>&1; then
    "${PIP[@]}" install "torch==$TORCH_VERSION"
  else
    # A local wheel (pip's find-links) first; its dependencies then come from the usual index.
    if "${PIP[@]}" install --no-index --no-deps "torch==$TORCH_VERSION" >/dev/null 2>&1; then
      "${PIP[@]}" install "torch==$TORCH_VERSION"
    else
      "${PIP[@]}" install "torch==$TORCH_VERSION" --index-url "$TORCH_CPU_INDEX" --extra-index-url https://pypi.org/simple
    fi
  fi
fi

"${PIP[@]}" install -c "$CONSTRAINTS" -e ".[$EXTRAS]"
"${PIP[@]}" install --no-deps "escnn==$ESCNN_VERSION"
"$VENV/bin/python" - <<'PY'
import importlib, sys, warnings
warnings.filterwarnings("ignore")
names = ["torch", "numpy", "zarr", "numcodecs", "h5py", "lightning", "tensorboard", "diffusers", "mujoco", "gymnasium",
         "escnn", "robosuite"]
versions = []
for n in names:
    try:
        m = importlib.import_module(n)
    except ImportError:
        if n == "robosuite":  # optional extra
            continue
        raise
    versions.append(f"{n} {getattr(m, '__version__', '?')}")
print("setup: " + ", ".join(versions))
PY
