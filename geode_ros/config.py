"""Typed dataclass configs: the one source of defaults.

YAML files, ROS parameters and CLI flags all map onto dataclass fields through
the helpers here, so no default is ever written twice. A field with a fixed set of
values declares them once (``choice``, or ``'choices'`` in its metadata):
``from_dict`` checks them (``check_choices``), argparse flags offer them.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

from geode_ros.errors import GeodeError

T = TypeVar('T')


def choice(default: Any, help: str, choices: Sequence[Any]) -> Any:  # noqa: A002
    """A dataclass field that must be one of ``choices`` (``check_choices``)."""
    return dataclasses.field(default=default, metadata={'help': help,
                                                        'choices': tuple(choices)})


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``, else a GeodeError naming them; the one place
    the "must be one of" message is written."""
    if value not in tuple(choices):
        raise GeodeError(f'{name} must be one of {list(choices)}, got {value!r}')
    return value


def check_choices(obj: Any, prefix: str = '') -> Any:
    """Check every field of dataclass ``obj`` (nested ones too) declared with choices;
    return ``obj``."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            check_choices(value, f'{prefix}{f.name}.')
        elif 'choices' in f.metadata:
            check_choice(prefix + f.name, value, f.metadata['choices'])
    return obj


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(tp: Any) -> Any:
    """Return X for Optional[X] / X | None, else tp unchanged."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def from_dict(cls: type[T], data: dict[str, Any] | None, *, where: str = '') -> T:
    """Build dataclass ``cls`` from a (possibly nested, possibly partial) dict.

    Unknown keys raise ``GeodeError`` naming the key, so a typo in a YAML file
    is not silently ignored.
    """
    data = dict(data or {})
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise GeodeError(
            f'unknown config key(s) {unknown} in {where or cls.__name__}; '
            f'known keys: {sorted(names)}'
        )
    kwargs = {}
    for name, value in data.items():
        tp = _unwrap_optional(hints[name])
        if dataclasses.is_dataclass(tp) and isinstance(value, dict):
            value = from_dict(tp, value, where=f'{where}.{name}' if where else name)
        elif tp is tuple or typing.get_origin(tp) is tuple:
            elem = [a for a in typing.get_args(tp) if a is not Ellipsis]
            conv = elem[0] if len(elem) >= 1 and elem[0] in (int, float, str) else None
            value = tuple(conv(v) if conv else v for v in value)
        elif tp is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif tp is Path and value is not None:
            value = Path(value)
        kwargs[name] = value
    return check_choices(cls(**kwargs))


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass to plain dict (Paths become strings, tuples become lists)."""

    def convert(v: Any) -> Any:
        if dataclasses.is_dataclass(v):
            return {f.name: convert(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, Path):
            return str(v)
        if isinstance(v, (list, tuple)):
            return [convert(x) for x in v]
        if isinstance(v, dict):
            return {k: convert(x) for k, x in v.items()}
        return v

    return convert(obj)


def load_yaml(cls: type[T], path: str | Path, *, section: str | None = None) -> T:
    """Load ``cls`` from a YAML file (optionally from one top-level section)."""
    path = Path(path)
    if not path.is_file():
        raise GeodeError(f'config file not found: {path}')
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise GeodeError(f'config file {path} is not valid YAML: {exc}') from exc
    if section is not None:
        data = data.get(section, {})
    return from_dict(cls, data, where=str(path))


def flatten(obj: Any, prefix: str = '') -> dict[str, Any]:
    """Nested dataclass to ``{'a.b': value}`` (what ROS parameters and flags use)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f'{prefix}{f.name}'
        if dataclasses.is_dataclass(value):
            out.update(flatten(value, key + '.'))
        else:
            out[key] = value
    return out


def unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    """Inverse of ``flatten`` for plain dicts."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        *parents, leaf = key.split('.')
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def field_help(cls: type, name: str) -> str:
    """The ``help`` metadata of a dataclass field (empty if none)."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata.get('help', '')
    return ''


def add_dataclass_args(parser: argparse.ArgumentParser, obj: Any, prefix: str = '') -> None:
    """Add one ``--a.b`` flag per leaf field of dataclass instance ``obj``.

    Defaults come from ``obj``; help from ``field(metadata={'help': ...})``.
    Booleans take ``--flag`` / ``--no-flag``.
    """
    hints = _field_types(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f'{prefix}{f.name}'
        if dataclasses.is_dataclass(value):
            add_dataclass_args(parser, value, key + '.')
            continue
        tp = _unwrap_optional(hints[f.name])
        helptext = f.metadata.get('help', '')
        flag = '--' + key.replace('_', '-')
        choices = f.metadata.get('choices')
        if choices and not all(isinstance(c, str) for c in choices):
            choices = None  # e.g. None among them: checked by from_dict instead
        if tp is bool:
            parser.add_argument(
                flag, dest=key, action=argparse.BooleanOptionalAction, default=None,
                help=f'{helptext} (default: {value})',
            )
        elif tp is tuple or typing.get_origin(tp) is tuple:
            parser.add_argument(flag, dest=key, nargs='+', default=None,
                                help=f'{helptext} (default: {value})')
        else:
            conv = tp if tp in (int, float, str) else str
            parser.add_argument(flag, dest=key, type=conv, default=None, choices=choices,
                                help=f'{helptext} (default: {value})')


def apply_args(obj: T, args: argparse.Namespace) -> T:
    """Return a copy of ``obj`` with every flag the user actually gave applied."""
    flat = flatten(obj)
    given = {k: v for k, v in vars(args).items() if k in flat and v is not None}
    merged = unflatten({**flat, **given})
    return from_dict(type(obj), merged)
