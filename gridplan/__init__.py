"""gridplan: community grids (网格) and micro-grids (微网格) for Chinese urban planners.

:func:`plan` chains the stages of :mod:`gridplan.stages` (prepare, cells, grids, micro-grids,
codes, apportionment, assembly); each stage is public for callers that need one of them.
"""

from .config import (
    CodeRules,
    GridRules,
    MicroGridRules,
    PlanRules,
    ReformRules,
    SearchRules,
    band_admits,
)
from .diagnostics import Diagnostic
from .errors import GridplanError, InfeasibleError, Problem, ValidationError
from .io import list_layers, read_layer, write_layer
from .layers import Layers, prepare_layers
from .partition import GridPartition, MicroPartition, partition_grids, partition_microgrids
from .pipeline import Plan, plan
from .reform import Reform, redivide
from .replan import replan
from .staffing import Staffing, StaffingRules, staffing_plan

__version__ = "0.1.0"

__all__ = [
    "CodeRules",
    "Diagnostic",
    "GridPartition",
    "GridRules",
    "GridplanError",
    "InfeasibleError",
    "Layers",
    "MicroGridRules",
    "MicroPartition",
    "Plan",
    "PlanRules",
    "Problem",
    "Reform",
    "ReformRules",
    "SearchRules",
    "Staffing",
    "StaffingRules",
    "ValidationError",
    "__version__",
    "band_admits",
    "list_layers",
    "partition_grids",
    "partition_microgrids",
    "plan",
    "prepare_layers",
    "read_layer",
    "redivide",
    "replan",
    "staffing_plan",
    "write_layer",
]
