"""The constrained clustering core: grids, micro-grids, the shared piece splitter and its
local search."""

from .core import PieceResult, choose_k, split_piece
from .grids import GridPartition, partition_grids, polsby_popper
from .refine import refine

__all__ = [
    "GridPartition",
    "PieceResult",
    "choose_k",
    "partition_grids",
    "polsby_popper",
    "refine",
    "split_piece",
]
