"""Typed configs: every stage has one dataclass, saved as JSON beside what it produced.

Values come from, in order: the dataclass defaults, a named preset, a saved JSON file, and
``--set key=value`` overrides. Unknown keys and ill-typed values are errors that name the key.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import types
import typing
from pathlib import Path

from .errors import InputError
from .fileio import load_json, save_json


def to_dict(cfg) -> dict:
    """A config as a plain dict of its fields, nested configs included (what is saved as JSON)."""
    return dataclasses.asdict(cfg)


def choices(literal) -> tuple:
    """The values a ``Literal[...]`` type allows, in its order: each choice list of cunet is one such type,
    which its config checks (:func:`check_choice`, :func:`from_dict`) and its command's flag offers."""
    return typing.get_args(literal)


def check_choice(name: str, value, literal) -> None:
    """Refuse ``value`` unless ``literal`` allows it.

    Raises:
        ValueError: naming ``name`` and the values allowed.
    """
    allowed = choices(literal)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(str, allowed))}, got {value!r}")


def _label(where: str, key) -> str:
    """Where a value sits in a nested dict: ``model.film``, ``tracks[1].n_frames``, ``indexes['train']``."""
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else str(key)


def _refuse(source, label: str, hint, value) -> typing.NoReturn:
    literals = [kind for kind in _alternatives(hint) if typing.get_origin(kind) is typing.Literal]
    if literals:  # a choice list: say its values, not the type's spelling
        values = ", ".join(str(v) for kind in literals for v in typing.get_args(kind))
        raise InputError(source, f"key {label!r} must be one of {values}, got {value!r}")
    raise InputError(source, f"key {label!r} expects {_spelling(hint)}, got {value!r}")


def _alternatives(hint) -> tuple:
    return typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)


def _spelling(hint) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _parse(hint, value, source, label: str):
    """``value`` read as ``hint``: a nested dataclass from a dict, the items of ``list[X]``, ``tuple[X, ...]``
    and ``dict[str, X]`` one by one, an int where a float is asked; anything else is refused, naming ``label``."""
    if hint is typing.Any:
        return value
    for kind in _alternatives(hint):
        if kind is type(None):
            if value is None:
                return None
            continue
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):  # a dataclass type (hints are never instances)
            if isinstance(value, kind):
                return value
            if isinstance(value, dict):
                return from_dict(kind, value, source, label)
            continue
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is typing.Literal:
            if value in args:
                return value
            continue
        base = origin or kind
        if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if base in (bool, str) and isinstance(value, base):
            return value
        if base in (tuple, list) and isinstance(value, (list, tuple)):
            item = args[0] if args and (base is list or args[1:] == (Ellipsis,)) else typing.Any
            return base(_parse(item, v, source, _label(label, i)) for i, v in enumerate(value))
        if base is dict and isinstance(value, dict):
            item = args[1] if args else typing.Any
            if not all(isinstance(k, str) for k in value):
                continue
            return {k: _parse(item, v, source, f"{label}[{k!r}]") for k, v in value.items()}
    _refuse(source, label, hint, value)


@functools.cache  # once per class: a store's manifest reads thousands of records of a few classes
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def from_dict(cls, values: dict, source: str | Path | None = None, where: str = ""):
    """Build ``cls`` from a plain dict: nested dataclasses, lists and dicts of them read item by item.

    Args:
        cls: a dataclass; values: its fields by name; source: the file named in an error.
        where: where ``values`` sits in the file (``tracks[3]``), for the error.

    Raises:
        InputError: an unknown key, a missing field without a default, an ill-typed value, or a value ``cls``
            refuses (its ``ValueError``), each naming ``source`` and where.
    """
    if not isinstance(values, dict):
        raise InputError(source, f"{where or cls.__name__} is {values!r}, not a JSON object")
    known = dataclasses.fields(cls)
    names = {f.name for f in known}
    unknown = sorted(set(values) - names)
    if unknown:
        place = f" in {where}" if where else ""
        raise InputError(source, f"unknown key(s) {unknown}{place} for {cls.__name__}; known: {sorted(names)}")
    required = dataclasses.MISSING
    missing = [
        f.name
        for f in known
        if f.init and f.name not in values and f.default is required and f.default_factory is required
    ]
    if missing:
        place = f" in {where}" if where else ""
        raise InputError(source, f"missing key {missing[0]!r}{place} ({cls.__name__} needs {missing})")
    hints = _hints(cls)
    kwargs = {k: _parse(hints[k], v, source, _label(where, k)) for k, v in values.items()}
    try:
        return cls(**kwargs)
    except InputError:
        raise
    except ValueError as err:  # the dataclass's own check of its values
        if not where:
            raise
        raise InputError(source, f"{where}: {err}") from None


def parse_override(text: str) -> tuple[str, object]:
    """``key=value``; the value is read as JSON when it parses (numbers, booleans, lists), else as a string."""
    if "=" not in text:
        raise InputError(None, f"override {text!r} is not of the form key=value")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def apply_overrides(cfg, overrides: dict, source: str | None = "--set"):
    """Override fields; a dotted key (``model.film``) reaches into a nested config."""
    base = to_dict(cfg)
    for key, value in overrides.items():
        *parents, leaf = key.split(".")
        target = base
        for part in parents:
            if not isinstance(target.get(part), dict):
                raise InputError(source, f"unknown config key {key!r}: {part!r} is not a nested config")
            target = target[part]
        if leaf not in target:
            raise InputError(source, f"unknown config key {key!r}")
        target[leaf] = value
    return from_dict(type(cfg), base, source)


def save(cfg, path: str | Path) -> None:
    """Write ``cfg`` to ``path`` as JSON (atomically), tagged with its class name so that :func:`load` can refuse
    another stage's config."""
    save_json(path, {"type": type(cfg).__name__, "values": to_dict(cfg)})


def load(cls, path: str | Path):
    """Read a config of class ``cls`` that :func:`save` wrote.

    Keys missing from an older file take the class's ``SAVED_BEFORE`` values, where it has them, before its
    defaults.

    Raises:
        InputError: the file is missing, is not JSON, is not a saved ``cls``, or holds an unknown or ill-typed key.
        ValueError: values that ``cls`` itself refuses.
    """
    data = load_json(path)
    if not isinstance(data, dict) or data.get("type") != cls.__name__ or not isinstance(data.get("values"), dict):
        raise InputError(path, f"not a saved {cls.__name__} config")
    # A field added later is read, for files saved before it, as what those runs did (not its new default).
    return from_dict(cls, {**getattr(cls, "SAVED_BEFORE", {}), **data["values"]}, path)
