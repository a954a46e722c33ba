"""The model families: one module each, registered here by name.

A family is a :class:`Family` object: a name a config selects (``model: relaxed``), its own options (a frozen
dataclass, :attr:`Family.options`, whose fields are the ``--model.<option>`` names it takes) and the hooks the policy
calls: :meth:`Family.build` (the encoder and denoiser), :meth:`Family.fixed_inputs` (constant observation fields it
feeds, if any) and :meth:`Family.diagnostics` (equivariance error per region, and what else the family can show:
the relaxation map, the gate per region). Penalties belong to the modules that carry them
(:class:`~equidiff_relaxed.nn.penalty.Penalised`). Built-in families live in this package, one module per mechanism
(``plain``, ``equivariant``, ``relaxed``, ``residual``, ``subgroup``, ``dihedral``, ``cause``, ``canonical``,
``local``, ``gated``, ``oriented``, ``relaxed_conv``; shared parts in ``canonical`` and ``orientation``), each
registering its families when imported; a plug-in (:mod:`equidiff_relaxed.plugins`)
registers its own the same way.

This module imports nothing heavy (families import torch inside their hooks), so reports and sweeps can read the
registry (names, order, colours, which families are exact) without loading torch or escnn.
"""
from __future__ import annotations

from equidiff_relaxed.policy.families.base import (Family, NoOptions, all_option_fields, check_option_sections,
                                                   family_names, family_option_docs, get_family, register,
                                                   unregister, watch_registrations)

# The built-in families register on import, in the order of tables, legends and colours.
from equidiff_relaxed.policy.families import plain, equivariant, relaxed, residual  # noqa: E402,F401,I001
from equidiff_relaxed.policy.families import subgroup, dihedral, cause, canonical, local, gated  # noqa: E402,F401,I001
from equidiff_relaxed.policy.families import oriented, relaxed_conv  # noqa: E402,F401,I001

__all__ = ["Family", "NoOptions", "all_option_fields", "check_option_sections", "family_names", "family_option_docs",
           "get_family", "register", "unregister", "watch_registrations"]
