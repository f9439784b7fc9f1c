"""The policy registry: every tool registers its config class under its ``type``.

One registry serves the YAML ``type:`` lookup (:func:`contagion.policies.policy_from_dict`),
experiment files, and the CLI's ``contagion policies`` list. A new tool is one module with a
config class decorated with :func:`register`; nothing else changes.

Examples
--------
>>> from contagion.policies import registry
>>> "srf" in registry.policy_types()
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Union

from pydantic import Field, TypeAdapter

if TYPE_CHECKING:  # pragma: no cover
    from contagion.policies.base import PolicyConfig

_REGISTRY: dict[str, type[PolicyConfig]] = {}
_ADAPTER: dict[tuple[str, ...], TypeAdapter] = {}


def register(config_cls: type[PolicyConfig]) -> type[PolicyConfig]:
    """Class decorator: register a policy config under its ``type`` default."""
    field = config_cls.model_fields.get("type")
    kind = field.default if field is not None else None
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{config_cls.__name__} needs a `type: Literal[...]` field with a default")
    known = _REGISTRY.get(kind)
    if known is not None and known is not config_cls:
        raise ValueError(f"policy type {kind!r} is already registered by {known.__name__}")
    _REGISTRY[kind] = config_cls
    _ADAPTER.clear()
    return config_cls


def policy_types() -> tuple[str, ...]:
    """Registered policy types, in registration order."""
    return tuple(_REGISTRY)


def config_class(kind: str) -> type[PolicyConfig]:
    return _REGISTRY[kind]


def describe(kind: str) -> str:
    """One line on what the tool is (its config's ``tool`` text or docstring)."""
    cls = _REGISTRY[kind]
    text = getattr(cls, "tool", None) or (cls.__doc__ or "").strip().split("\n")[0]
    return text.strip()


def adapter() -> TypeAdapter:
    """A pydantic adapter validating any registered policy (``type`` discriminates)."""
    key = tuple(_REGISTRY)
    hit = _ADAPTER.get(key)
    if hit is None:
        classes = tuple(_REGISTRY.values())
        if len(classes) == 1:
            hit = TypeAdapter(classes[0])
        else:
            hit = TypeAdapter(Annotated[Union[classes], Field(discriminator="type")])  # noqa: UP007
        _ADAPTER[key] = hit
    return hit
