"""Staffing and party-organisation plan (人员配备与党组织设置) for a grid plan.

Planners do not stop at boundaries: each plan must say who serves where. Given a plan's grids,
micro-grids and units, :func:`staffing_plan` works out, following common practice:

* **posts per grid** — one grid head (网格长) and one full-time grid worker (专职网格员) per
  residential grid, one part-time grid worker (兼职网格员) per micro-grid, one contact
  (专属网格联络员) per dedicated grid (专属网格);
* **community workers** (社区工作者) — no fewer than 18 per 10,000 residents (some cities use
  25), rounded up per community. Residents are counted where the input gave them and
  estimated as ``households × household_size`` elsewhere, and flagged as estimated;
* **party organisation** — per compound (小区) when the units carry ``compound_id``, else per
  grid: 3 or more party members form a branch (党支部) of their own; smaller ones are grouped
  with *adjacent* small neighbours into joint branches (联合党支部) of at most 5 compounds/grids;
  a branch over 50 members should be split, one with 7 or more has a committee (支委会);
  buildings with 3 or more members hold a building party group (楼栋党小组) and each
  party-member central household (党员中心户) keeps in touch with about 15 households;
* **named roster** (optional) — people assigned to grid-head and full-time posts by a
  min-cost assignment: those living in the grid first, then the least total distance.

The package follows the work: :mod:`~gridplan.staffing.inputs` (the plan's frames, checked),
:mod:`~gridplan.staffing.posts`, :mod:`~gridplan.staffing.party`,
:mod:`~gridplan.staffing.roster` (people read and checked), :mod:`~gridplan.staffing.assign`
(people to posts) and :mod:`~gridplan.staffing.plan` (:func:`staffing_plan` chains them into a
:class:`Staffing`). What the plan could not meet is reported as
:class:`gridplan.diagnostics.Diagnostic` records (level ``staffing``).

Every number is a field of :class:`StaffingRules` (in :mod:`gridplan.config`). The result,
:class:`Staffing`, holds one table per topic and writes an Excel workbook with Chinese headers
(English on request); phone numbers are masked in every export unless asked otherwise.

Examples
--------
>>> import geopandas as gpd
>>> from shapely.geometry import box
>>> grids = gpd.GeoDataFrame(
...     {"grid_code": ["001", "002"], "community_id": ["C1", "C1"],
...      "kind": ["residential", "residential"], "households": [400, 420],
...      "n_microgrids": [8, 9]},
...     geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)], crs=32649)
>>> s = staffing_plan({"grids": grids})
>>> s.grids[["grid_code", "grid_head", "fulltime_worker", "parttime_workers"]].values.tolist()
[['001', 1, 1, 8], ['002', 1, 1, 9]]
>>> int(s.communities.loc[0, "community_workers"])   # 820 households x 2.8 = 2,296 residents
5
"""

from __future__ import annotations

from ..config import StaffingRules, staffing_rules_from_dict, staffing_rules_from_toml
from .assign import assign_min_cost
from .inputs import read_plan_layers
from .party import group_joint_branches, org_unit_graph
from .plan import Staffing, mask_phone, staffing_plan
from .posts import community_workers_needed
from .roster import ROLES, read_roster

__all__ = [
    "ROLES",
    "Staffing",
    "StaffingRules",
    "assign_min_cost",
    "community_workers_needed",
    "group_joint_branches",
    "mask_phone",
    "org_unit_graph",
    "read_plan_layers",
    "read_roster",
    "staffing_plan",
    "staffing_rules_from_dict",
    "staffing_rules_from_toml",
]
