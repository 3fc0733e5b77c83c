"""A fast constructor for the frozen dataclasses a bulk verification makes per item.

A frozen dataclass's generated ``__init__`` sets each field through ``object.__setattr__`` (~0.3 µs a field):
for VerifiedJws, VerifiedSdJwt and VerificationResult that was ~8 µs of a ~150 µs presentation verify. The
builder fills the instance dict at once: the same object (equal, hashable, still frozen), every field required.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

__all__ = ["frozen_builder"]

T = TypeVar("T")


def frozen_builder(cls: type[T]) -> Callable[..., T]:
    """``build(**fields)`` for the frozen dataclass ``cls``: every field by keyword, no more, no less."""
    if not is_dataclass(cls) or hasattr(cls, "__post_init__") or "__slots__" in vars(cls):
        raise TypeError(f"{cls.__name__}: a plain dataclass without __post_init__ or slots is required")
    names = frozenset(f.name for f in fields(cls))
    new = object.__new__

    def build(**values: Any) -> T:
        if values.keys() != names:
            raise TypeError(f"{cls.__name__} needs exactly the fields {sorted(names)}")
        obj: T = new(cls)
        obj.__dict__.update(values)
        return obj

    return build
