"""One line for a command-line or YAML option that does not parse: which option, where it came from, what was meant.

jsonargparse's errors span several lines and say neither which of several ``--config`` files holds a misspelt key nor
what the nearest valid option is. :func:`parse_error` turns one into a :class:`~equidiff_relaxed.errors.UserError`:
``typo.yaml: unknown option model.relax_alpah (did you mean model.relax_alpha?)``, ``equidiff-train: unknown option
--trainer.max_stepz (did you mean --trainer.max_steps?)``, ``equidiff-eval: --regions: expected int, got 'x'``.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from typing import Any

from equidiff_relaxed.errors import UserError


def parse_error_line(message: str) -> str:
    """jsonargparse's (multi-line) parse error as one line: ``--key: expected <type>, got 'value'`` where it names
    a key and a value, else its text joined."""
    text = " ".join(message.split())
    key = re.search(r'Parser key "([\w.]+)"', text)
    value = re.search(r"(?:Given|Got) value: (.*)$", text)
    if key and value:
        kinds = [a or b for a, b in re.findall(r"Expected a (?:<class '(\w+)'>|(?:typing\.)?(\w+\[[^\]]*\]|\w+))", text)]
        kind = " or ".join(dict.fromkeys(k for k in kinds if k != "NoneType")) or "a valid value"
        return f"--{key.group(1)}: expected {kind}, got {value.group(1).strip()!r}"
    required = re.search(r"the following arguments are required: (.*)$", text)
    if required:
        names = ", ".join(f"--{n.strip()}" for n in required.group(1).split(","))
        return f"missing required option(s): {names}"
    return text


_UNKNOWN_OPTION = (re.compile(r"Group '([\w.]+)' does not accept option '([\w.]+)'"),
                   re.compile(r"Option '([\w.]+)' is not accepted"),
                   re.compile(r"unrecognized arguments: --([\w.-]+)"))


def unknown_option(message: str) -> str | None:
    """The dotted key a jsonargparse error says is not an option (``model.relax_alpah``), or None."""
    text = " ".join(message.split())
    for pattern in _UNKNOWN_OPTION:
        found = pattern.search(text)
        if found:
            return ".".join(found.groups())
    return None


def config_files(argv: Sequence[str]) -> list[str]:
    """The files given with ``--config`` in ``argv``, in order."""
    files = []
    for i, token in enumerate(argv):
        if token == "--config" and i + 1 < len(argv):
            files.append(str(argv[i + 1]))
        elif str(token).startswith("--config="):
            files.append(str(token).split("=", 1)[1])
    return files


def file_with_key(key: str, files: Sequence[str]) -> str | None:
    """The last of ``files`` (YAML) that sets the dotted ``key``, or None."""
    import yaml

    parts = key.split(".")
    for path in reversed(files):
        try:
            with open(path) as f:
                node: Any = yaml.safe_load(f)
        except (OSError, yaml.YAMLError):
            continue
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and parts[-1] in node:
            return path
    return None


def parse_error(err: Exception, parser: Any, argv: Sequence[str], prog: str) -> UserError:
    """One :class:`UserError` line for a jsonargparse parse error. An unknown option names where it came from (the
    YAML file that sets it, else the command line) and the nearest valid option: ``typo.yaml: unknown option
    model.relax_alpah (did you mean model.relax_alpha?)``; other errors: :func:`parse_error_line`."""
    key = unknown_option(str(err))
    if key is None:
        return UserError(f"{prog}: {parse_error_line(str(err))}")
    try:
        known = [str(k) for k in parser.get_defaults().keys()]
    except Exception:  # noqa: BLE001 - a suggestion is a courtesy; the error line stands without it
        known = []
    near = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    source = file_with_key(key, config_files(argv))
    if source is not None:
        return UserError(f"unknown option {key}" + (f" (did you mean {near[0]}?)" if near else ""), source)
    return UserError(f"{prog}: unknown option --{key}" + (f" (did you mean --{near[0]}?)" if near else ""))


__all__ = ["config_files", "file_with_key", "parse_error", "parse_error_line", "unknown_option"]
