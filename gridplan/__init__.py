"""gridplan: community grids (网格) and micro-grids (微网格) for Chinese urban planners."""

from .config import CodeRules, GridRules, MicroGridRules, PlanRules, band_admits
from .errors import GridplanError, InfeasibleError, Problem, ValidationError
from .layers import Layers, prepare_layers
from .partition import GridPartition, partition_grids

__version__ = "0.1.0"

__all__ = [
    "CodeRules",
    "GridPartition",
    "GridRules",
    "GridplanError",
    "InfeasibleError",
    "Layers",
    "MicroGridRules",
    "PlanRules",
    "Problem",
    "ValidationError",
    "__version__",
    "band_admits",
    "partition_grids",
    "prepare_layers",
]
