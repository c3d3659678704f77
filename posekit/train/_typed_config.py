"""Typed construction of frozen dataclasses from YAML data and ``dotted.key=value`` override strings.

Generic machinery behind :mod:`posekit.train.config`: values are converted to each field's annotated type
(int, float, bool, str, tuples, ``Optional``, ``Literal``, nested dataclasses, lists of dataclasses), unknown keys
get the closest valid name, and every error names the dotted key.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A recipe or override that cannot be turned into a :class:`TrainConfig` (the message names the key)."""


class _Cli(str):
    """An override's value: still text, converted by the target field's type."""


_TRUE, _FALSE, _NONE = {"true", "yes", "on", "1"}, {"false", "no", "off", "0"}, {"none", "null", "~", ""}


def _type_name(tp: Any) -> str:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("None" if a is type(None) else _type_name(a) for a in args)
    if origin is tuple:
        inner = f"{_type_name(args[0])}, ..." if len(args) == 2 and args[1] is Ellipsis else \
            ", ".join(_type_name(a) for a in args)
        return f"tuple[{inner}]"
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, key: str) -> Any:
    """``value`` (YAML data, or :class:`_Cli` text) as type ``tp``; raises ConfigError naming ``key``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    cli = isinstance(value, _Cli)

    def bad(extra: str = "") -> ConfigError:
        kind = "text" if cli else type(value).__name__
        return ConfigError(f"{key}: expected {_type_name(tp)}, got {str(value)!r} ({kind}){extra}")

    if dataclasses.is_dataclass(tp):
        if cli:
            names = [f.name for f in dataclasses.fields(tp)]
            raise ConfigError(f"{key} is a section; set its fields instead, e.g. {key}.{names[0]}=...")
        if not isinstance(value, Mapping):
            raise bad()
        return _build(tp, value, key)
    if origin in (typing.Union, types.UnionType):
        if value is None or (cli and value.strip().lower() in _NONE):
            if type(None) in args:
                return None
            raise bad()
        options = [a for a in args if a is not type(None)]
        for arg in options:
            try:
                return _convert(value, arg, key)
            except ConfigError as exc:
                if len(options) == 1:  # keep the detail, name the full type
                    raise ConfigError(str(exc).replace(_type_name(arg), _type_name(tp), 1)) from None
        raise bad()
    if origin is Literal:
        if value in args:
            return args[args.index(value)]
        close = difflib.get_close_matches(str(value), [str(a) for a in args], n=1)
        raise bad(f"; did you mean {close[0]!r}?" if close else "")
    if origin is tuple:
        items = value
        if cli:
            text = value.strip()
            try:
                items = yaml.safe_load(text) if text.startswith("[") else [_Cli(s) for s in text.split(",")]
            except yaml.YAMLError:
                raise bad(" (write a list as 1,2 or [1, 2])") from None
        if not isinstance(items, (list, tuple)):
            raise bad()
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{key}.{i}") for i, v in enumerate(items))
        if len(items) != len(args):
            raise bad(f"; it needs {len(args)} values")
        return tuple(_convert(v, a, f"{key}.{i}") for i, (v, a) in enumerate(zip(items, args)))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if cli and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise bad()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if cli and value.strip().lstrip("+-").isdigit():
            return int(value)
        raise bad()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # also YAML text such as 1e-3, which YAML 1.1 reads as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise bad()
    if tp is str:
        if isinstance(value, str):
            return str(value)
        raise bad()
    raise ConfigError(f"{key}: unsupported field type {tp!r}")  # pragma: no cover - a bug in a dataclass here


def _build(cls: type, data: Mapping, prefix: str) -> Any:
    """Dataclass ``cls`` from a mapping: every key must be a field, values converted by the field types."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in data.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if name not in fields:
            raise ConfigError(_unknown(key, str(name), list(fields), prefix))
        kwargs[name] = _convert(value, hints[name], key)
    missing = [n for n, f in fields.items() if n not in kwargs and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        where = f"{prefix}." if prefix else ""
        raise ConfigError(f"missing required key {where}{missing[0]}")
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ConfigError(f"{prefix or 'config'}: {exc}") from None


def _unknown(key: str, name: str, valid: list[str], prefix: str) -> str:
    close = difflib.get_close_matches(name, valid, n=1, cutoff=0.5)
    where = f"{prefix}." if prefix else ""
    hint = f"did you mean {where}{close[0]}?" if close else f"valid keys: {', '.join(where + v for v in valid)}"
    return f"unknown key {key!r}; {hint}"


def _override(data: dict, item: str, schema: type) -> None:
    """Apply one ``dotted.key=value`` to the raw nested ``data`` (in place), checking the key against ``schema``
    (the root dataclass)."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must have the form key=value, e.g. optim.lr=1e-4")
    key, value = (s.strip() for s in item.split("=", 1))
    parts = key.split(".")
    if not all(parts):
        raise ConfigError(f"override {item!r}: empty key segment in {key!r}")
    tp: Any = schema
    node: Any = data
    for depth, part in enumerate(parts):
        prefix = ".".join(parts[:depth])
        last = depth == len(parts) - 1
        if dataclasses.is_dataclass(tp):
            names = [f.name for f in dataclasses.fields(tp)]
            if part not in names:
                raise ConfigError(_unknown(".".join(parts[: depth + 1]), part, names, prefix))
            if last:
                node[part] = _Cli(value)
                return
            tp = typing.get_type_hints(tp)[part]
            default = [] if typing.get_origin(tp) is tuple else {}
            if not isinstance(node.get(part), (dict, list)):
                node[part] = default
            node = node[part]
        elif typing.get_origin(tp) is tuple and dataclasses.is_dataclass(typing.get_args(tp)[0]):
            if not part.isdigit() or int(part) > len(node):
                raise ConfigError(f"override {item!r}: {prefix} has {len(node)} entries; use an index 0..{len(node)}")
            if int(part) == len(node):
                node.append({})
            tp, node = typing.get_args(tp)[0], node[int(part)]
            if last:
                raise ConfigError(f"{key} is a section; set its fields instead, e.g. {key}.path=...")
        else:
            raise ConfigError(f"override {item!r}: {prefix} is a value, not a section")


def _merge(base: Mapping, top: Mapping) -> dict:
    out = dict(base)
    for k, v in top.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {str(path)!r}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a recipe must be a YAML mapping, got {type(data).__name__}")
    return data
