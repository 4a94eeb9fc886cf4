"""The constrained clustering core: the shared piece splitter (:mod:`.core`) and its local
search (:mod:`.refine`), the grid stage (:mod:`.grids`: cells, cell graph, grids) and the
micro-grid stage (:mod:`.microgrids`)."""

from .core import PieceResult, choose_k, split_piece
from .grids import (
    GridPartition,
    RegionCells,
    UnitCells,
    grids_from_cells,
    partition_grids,
    polsby_popper,
    region_cells,
    unit_cells,
    unit_graph,
)
from .microgrids import MicroPartition, partition_microgrids
from .refine import refine

__all__ = [
    "GridPartition",
    "MicroPartition",
    "PieceResult",
    "RegionCells",
    "UnitCells",
    "choose_k",
    "grids_from_cells",
    "partition_grids",
    "partition_microgrids",
    "polsby_popper",
    "refine",
    "region_cells",
    "split_piece",
    "unit_cells",
    "unit_graph",
]
