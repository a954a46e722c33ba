"""Command-line options from typed config dataclasses: one style for every ``equidiff-*`` command.

A command declares its options once, as a dataclass whose docstring's ``Args:`` section is their help text;
:func:`parse` builds a jsonargparse parser from it and returns the dataclass. The style is LightningCLI's, as
``equidiff-train`` uses: ``--option_name VALUE`` (also accepted spelled ``--option-name``), booleans as ``--flag``
/ ``--no_flag``, list options take one or more values (``--checkpoint a.ckpt b.ckpt``; repeating the flag adds
more, except for options with a default list, which it replaces), and ``--config FILE.yaml``
reads any of them from YAML (flags after it override it). A bad value (wrong type, unknown choice, missing
required option) is one ``error:`` line, exit status 2, like every user error (:mod:`equidiff_relaxed.errors`).
"""
from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

from equidiff_relaxed.option_errors import parse_error

T = TypeVar("T")
_OPTION = re.compile(r"^--[A-Za-z][\w.-]*")


def normalise_argv(argv: Sequence[str]) -> list[str]:
    """``--option-name`` -> ``--option_name`` (the part before ``=``); values are left as they are."""
    out = []
    for token in argv:
        match = _OPTION.match(token)
        out.append(match.group(0).replace("-", "_").replace("__", "--", 1) + token[match.end():] if match else token)
    return out


class ExtendList(argparse.Action):
    """Each use of the option adds its values to the list (argparse's ``extend``, robust to unset defaults)."""

    def __call__(self, parser: Any, namespace: Any, values: Any, option_string: str | None = None) -> None:
        current = getattr(namespace, self.dest, None)
        setattr(namespace, self.dest, (list(current) if isinstance(current, list) else []) + list(values))


def split_items(values: Iterable[object] | None) -> list[str] | None:
    """A list option's values with commas also separating them (``--keys a,b c`` -> [a, b, c]); None stays None."""
    if values is None:
        return None
    return [v.strip() for item in values for v in str(item).split(",") if v.strip()]


def _arg_docs(cls: type) -> dict[str, str]:
    from docstring_parser import parse as parse_docstring

    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if klass.__doc__:
            docs.update({p.arg_name: " ".join((p.description or "").split())
                         for p in parse_docstring(klass.__doc__).params})
    return docs


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType", None)) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True
    return hint, False


def add_dataclass_options(parser: Any, cls: type, positional: Iterable[str] = (), optional_all: bool = False,
                          skip: Iterable[str] = ()) -> None:
    """Add one option per field of dataclass ``cls`` to a jsonargparse ``parser``. ``positional``: fields given as
    positional arguments; ``optional_all``: every option defaults to None (unset), for option groups merged into
    another command (the caller keeps only what was given)."""
    from jsonargparse import ActionYesNo

    hints = typing.get_type_hints(cls)
    docs = _arg_docs(cls)
    positional, skip = set(positional), set(skip)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        hint, _ = _unwrap_optional(hints[f.name])
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
        default = None if optional_all or required else (
            f.default if f.default is not dataclasses.MISSING else f.default_factory())  # type: ignore[misc]
        help_text = docs.get(f.name, "")
        if default not in (None, False, [], ()) and not optional_all:
            help_text += f" (default: {default})"
        if f.name in positional:
            parser.add_argument(f.name, type=hints[f.name], help=help_text)
        elif hint is bool:
            parser.add_argument(f"--{f.name}", action=ActionYesNo, default=default, help=help_text)
        elif typing.get_origin(hint) in (list, tuple):
            element = typing.get_args(hint)[0] if typing.get_args(hint) else str
            extra = {} if default else {"action": ExtendList}  # repeated flags add up, unless there is a default list
            parser.add_argument(f"--{f.name}", nargs="+", type=element, default=default,
                                required=required and not optional_all, help=help_text, **extra)
        else:
            parser.add_argument(f"--{f.name}", type=hints[f.name] if not optional_all else typing.Optional[hint],
                                default=default, required=required and not optional_all, help=help_text)


def make_parser(cls: type, prog: str, description: str | None, positional: Iterable[str] = ()) -> Any:
    """The jsonargparse parser of a command whose options are dataclass ``cls``'s fields (plus ``--config``)."""
    from jsonargparse import ActionConfigFile, ArgumentParser

    parser = ArgumentParser(prog=prog, description=description, exit_on_error=False,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action=ActionConfigFile, help="a YAML file of these options")
    add_dataclass_options(parser, cls, positional)
    return parser


def parse_namespace(parser: Any, argv: Sequence[str] | None) -> dict[str, Any]:
    """Parse ``argv`` (None: ``sys.argv[1:]``) into plain values; one-line UserError for a bad one."""
    import sys

    from jsonargparse import ArgumentError

    args = normalise_argv(list(sys.argv[1:] if argv is None else argv))
    try:
        values = parser.parse_args(args).as_dict()
    except ArgumentError as err:
        raise parse_error(err, parser, args, parser.prog) from None
    values.pop("config", None)
    values.pop("__path__", None)
    return values


def parse(cls: type[T], argv: Sequence[str] | None, prog: str, description: str | None = None,
          positional: Iterable[str] = ()) -> T:
    """Parse ``argv`` into dataclass ``cls`` (see the module docstring)."""
    values = parse_namespace(make_parser(cls, prog, description, positional), argv)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in values.items() if k in names})


__all__ = ["add_dataclass_options", "make_parser", "normalise_argv", "parse", "parse_namespace", "split_items"]
