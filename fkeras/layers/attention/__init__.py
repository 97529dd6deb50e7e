"""Attention layers: MultiHeadAttention, GroupedQueryAttention, Attention, AdditiveAttention."""

from .attention import AdditiveAttention, Attention
from .grouped_query_attention import GroupedQueryAttention
from .multi_head_attention import MultiHeadAttention

#: Keras 3 exports GroupedQueryAttention under this name.
GroupQueryAttention = GroupedQueryAttention

__all__ = [
    "AdditiveAttention",
    "Attention",
    "GroupQueryAttention",
    "GroupedQueryAttention",
    "MultiHeadAttention",
]
