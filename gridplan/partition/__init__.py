"""The constrained clustering core: grids, micro-grids and the shared piece splitter."""

from .core import PieceGraph, PieceResult, choose_k, split_piece
from .grids import GridPartition, partition_grids, polsby_popper

__all__ = [
    "GridPartition",
    "PieceGraph",
    "PieceResult",
    "choose_k",
    "partition_grids",
    "polsby_popper",
    "split_piece",
]
