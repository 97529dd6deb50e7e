"""Serialization of configs by registered class name (files come with the saving issue)."""

from ..core.registry import (
    deserialize,
    get_registered_name,
    get_registered_object,
    register_serializable,
    serialize,
)

__all__ = [
    "deserialize",
    "get_registered_name",
    "get_registered_object",
    "register_serializable",
    "serialize",
]
