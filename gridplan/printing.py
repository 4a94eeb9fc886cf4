"""Printable grid maps for the wall (网格图上墙) and one notice board per grid (网格公示牌).

:func:`print_plan` draws a plan (a :class:`gridplan.Plan` or the GeoPackage ``gridplan plan``
wrote) into two vector PDFs:

* ``wallmaps.pdf``: one page per community. Grids coloured so that neighbours differ, each
  labelled with its number and households (shrunk to fit, or set beside a small grid with a
  leader line), micro-grid outlines, barriers and roads with their names, compounds, dedicated
  grids hatched, a legend, a scale bar, a north arrow, a title with the version or date, and the
  full code of every grid in a table (continued on further pages when long).
* ``boards.pdf``: one page per grid. A locator map, the grid's code and figures, its grid head
  and workers with masked phones (from a staffing workbook, or blank lines to fill in by hand),
  its micro-grids with their address ranges (a roster plan's ``addresses``, else the buildings
  they cover) and part-time workers, and its party branch. Micro-grids that do not fit at a
  legible size continue on further boards (网格公示牌（续）).

Maps shown in public in China need an approved basemap, so nothing comes from web tiles: every
line is one of the plan's own layers. Text is set in a CJK font (:func:`find_cjk_font`) embedded
as TrueType, so Chinese prints without boxes and stays searchable. The same plan, staffing and
options give byte-identical PDFs (no creation date is written).

Examples
--------
>>> find_cjk_font().suffix in {".ttc", ".ttf", ".otf"}
True
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.affinity
from shapely.geometry import box as shapely_box

from .crs import working_crs
from .errors import Interface, Problem, ValidationError, option
from .i18n import LANGS, VALUES, Lang, sheet_label, t, value_label

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CJK_FAMILIES",
    "PAPERS",
    "PrintResult",
    "find_cjk_font",
    "grid_colours",
    "print_plan",
]

log = logging.getLogger(__name__)

Paper = Literal["A3", "A4"]

#: paper sizes in millimetres, (long side, short side)
PAPERS: Mapping[str, tuple[float, float]] = {"A3": (420.0, 297.0), "A4": (297.0, 210.0)}

#: font families tried in order when no font is given: WenQuanYi Zen Hei is what
#: ``.ci/install-browser`` installs (Debian ``fonts-wqy-zenhei``); the others are common on
#: planners' desktops
CJK_FAMILIES = (
    "WenQuanYi Zen Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
    "Heiti SC",
)

#: pastel fills, light enough for black labels; grids that touch never share one
PALETTE = (
    "#8dd3c7",
    "#ffffb3",
    "#bebada",
    "#fdb462",
    "#b3de69",
    "#fccde5",
    "#80b1d3",
    "#fb8072",
    "#d9d9d9",
    "#ccebc5",
)

_MM = 1 / 25.4  # inches per millimetre
_PT_PER_IN = 72.0
_OUTPUTS = ("wallmaps.pdf", "boards.pdf")
_CONTEXT = ("communities", "streets", "compounds", "dedicated", "barriers", "roads")


@dataclass(frozen=True)
class PrintResult:
    """What :func:`print_plan` wrote.

    Attributes
    ----------
    wallmaps, boards
        The two PDF files.
    communities
        Community codes, one wall-map page each (in page order; long code tables add pages).
    grids
        Grid codes, one notice board each (in page order).
    wallmap_pages, board_pages
        Page counts of the two files (continuation pages included, so they can exceed the
        communities and grids).
    font
        The font file the text is set in.
    """

    wallmaps: Path
    boards: Path
    communities: tuple[str, ...]
    grids: tuple[str, ...]
    wallmap_pages: int
    board_pages: int
    font: Path


# ---------------------------------------------------------------------------------------------
# fonts
# ---------------------------------------------------------------------------------------------


def _font_option(interface: Interface) -> str:
    return {"cli": "--font FILE", "app": "a font file"}.get(interface, "font='/path/to/font.ttf'")


def find_cjk_font(font: str | Path | None = None, *, interface: Interface = "python") -> Path:
    """The font file Chinese text is printed in.

    Parameters
    ----------
    font
        A font file (``.ttf``, ``.otf``, ``.ttc``) or an installed family name; ``None`` looks
        for the families of :data:`CJK_FAMILIES` among the installed fonts.
    interface
        Whose words the error names the option in (``python``: ``font=``, ``cli``: ``--font``).

    Raises
    ------
    ValidationError
        When the file does not exist, the family is not installed, or no CJK font is found;
        the message says how to install one or name one with ``font`` / ``--font``.
    """
    from matplotlib import font_manager

    fix = (
        f"install one (Debian/Ubuntu: apt-get install fonts-wqy-zenhei) or pass "
        f"{_font_option(interface)}"
    )
    if font is not None:
        text = str(font)
        path = Path(text).expanduser()
        if path.suffix.lower() in {".ttf", ".otf", ".ttc"} or path.exists():
            if not path.is_file():
                raise ValidationError(
                    [Problem("font", "missing_font", f"font file {text!r} not found; {fix}")]
                )
            return path
        found = _installed_family(text)
        if found is None:
            raise ValidationError(
                [
                    Problem(
                        "font",
                        "missing_font",
                        f"no installed font family named {text!r}; pass a font file or {fix}",
                    )
                ]
            )
        return found
    for family in CJK_FAMILIES:
        found = _installed_family(family)
        if found is not None:
            return found
    font_manager.fontManager  # noqa: B018 (the font list is built on first use)
    raise ValidationError(
        [
            Problem(
                "font",
                "missing_font",
                "no Chinese (CJK) font is installed, so Chinese labels would print as boxes "
                f"(looked for {', '.join(CJK_FAMILIES[:4])}, ...); {fix}",
            )
        ]
    )


def _installed_family(family: str) -> Path | None:
    from matplotlib import font_manager

    for entry in sorted(font_manager.fontManager.ttflist, key=lambda f: (f.fname, f.name)):
        if entry.name.lower() == family.lower():
            return Path(entry.fname)
    return None


# ---------------------------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------------------------


@dataclass
class _Frames:
    """The plan's layers in one metric CRS."""

    grids: gpd.GeoDataFrame
    microgrids: gpd.GeoDataFrame | None
    units: gpd.GeoDataFrame | None
    context: dict[str, gpd.GeoDataFrame]


def _read_plan(plan: Any, *, interface: Interface) -> _Frames:
    from .io import list_layers, read_layer

    if isinstance(plan, str | Path):
        p = Path(plan)
        if not p.is_file():
            raise ValidationError(
                [Problem(p.name, "missing_file", f"plan file {str(p)!r} not found")]
            )
        names = list_layers(p)
        if "grids" not in names:
            raise ValidationError(
                [
                    Problem(
                        p.name,
                        "missing_layer",
                        f"{p.name!r} has no `grids` layer (it holds "
                        f"{', '.join(names) or 'no layers'}); pass the GeoPackage written by "
                        "`gridplan plan`",
                    )
                ]
            )
        layers = {n: read_layer(p, layer=n) for n in ("grids", "microgrids", "units") if n in names}
        context = {n: read_layer(p, layer=n) for n in _CONTEXT if n in names}
        grids, micro, units = layers["grids"], layers.get("microgrids"), layers.get("units")
    else:
        from .export import context_frames

        grids = getattr(plan, "grids", None)
        if not isinstance(grids, gpd.GeoDataFrame):
            raise ValidationError(
                [
                    Problem(
                        "plan",
                        "no_grids",
                        "expected a gridplan Plan or the path of a plan GeoPackage, got "
                        f"{type(plan).__name__}",
                    )
                ]
            )
        micro = getattr(plan, "microgrids", None)
        units = getattr(plan, "units", None)
        if units is not None:
            name = units.index.name or "unit_id"
            units = units.reset_index(drop=name in units.columns, names=name)
        context = context_frames(plan)
    problems: list[Problem] = []
    missing = [c for c in ("grid_code", "households") if c not in grids.columns]
    if missing:
        problems.append(
            Problem(
                "grids",
                "missing_column",
                f"the grids have no {', '.join(f'`{c}`' for c in missing)} column; pass a plan "
                "written by `gridplan plan`",
            )
        )
    if grids.crs is None:
        problems.append(Problem("grids", "missing_crs", "the grids have no CRS"))
    if len(grids) == 0:
        problems.append(Problem("grids", "empty", "the plan has no grids to print"))
    if problems:
        raise ValidationError(problems)
    crs = working_crs(grids)

    def metric(frame: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
        if frame is None or len(frame) == 0 or frame.crs is None:
            return None if frame is None or frame.crs is None else frame.to_crs(crs)
        return frame.to_crs(crs)

    grids = grids.to_crs(crs).copy()
    grids["grid_code"] = grids["grid_code"].astype(str)
    if "community_code" not in grids.columns:
        grids["community_code"] = (
            grids["community_id"].astype(str) if "community_id" in grids.columns else ""
        )
    grids["community_code"] = grids["community_code"].fillna("").astype(str)
    if "kind" not in grids.columns:
        grids["kind"] = "residential"
    grids = grids.sort_values("grid_code", kind="stable").reset_index(drop=True)
    frames_ctx = {k: f for k, v in context.items() if (f := metric(v)) is not None}
    return _Frames(grids, metric(micro), metric(units), frames_ctx)


def _check_options(
    plan: Any,
    *,
    out: str | Path,
    paper: str,
    lang: str,
    force: bool,
    interface: Interface,
) -> tuple[Path, list[Path]]:
    """Every problem with the options, raised once before anything is read or drawn."""
    from .io import same_file

    problems: list[Problem] = []
    words = {"python": ("paper=", "lang="), "cli": ("--paper ", "--lang "), "app": ("", "")}
    paper_kw, lang_kw = words.get(interface, words["python"])
    if paper not in PAPERS:
        problems.append(Problem("paper", "paper", f"{paper_kw}{paper!r}: expected one of A3, A4"))
    if lang not in LANGS:
        problems.append(Problem("lang", "lang", f"{lang_kw}{lang!r}: expected 'zh' or 'en'"))
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        problems.append(
            Problem(
                folder.name,
                "not_a_folder",
                f"the output {str(folder)!r} is a file; name a folder for wallmaps.pdf and "
                "boards.pdf",
            )
        )
    targets = [folder / name for name in _OUTPUTS]
    source = Path(plan) if isinstance(plan, str | Path) else None
    for target in targets:
        if source is not None and target.exists() and same_file(target, source):
            problems.append(
                Problem(
                    target.name,
                    "output_is_input",
                    f"the output {target.name!r} is the plan being printed; write to another "
                    "folder",
                )
            )
        elif target.exists() and not force:
            problems.append(
                Problem(
                    target.name,
                    "output_exists",
                    f"the output {str(target)!r} already exists; {option('force', interface)}, "
                    "or write to another folder",
                )
            )
    if problems:
        raise ValidationError(problems)
    return folder, targets


# ---------------------------------------------------------------------------------------------
# staffing workbook
# ---------------------------------------------------------------------------------------------


@dataclass
class _Staff:
    """Named posts and party branches by grid code."""

    people: dict[str, list[tuple[str, str, str]]]  # grid_code -> [(role, name, phone)]
    party: dict[str, list[dict[str, Any]]]  # grid_code -> branches
    # microgrid_code -> [(role, name, phone)]: its part-time workers (兼职网格员), and the
    # building and stairwell heads who hold the post
    micro: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)


_NO_STAFF = _Staff({}, {})

#: roles that hold a micro-grid's part-time post (gridplan.staffing.assign.POSTS)
_PARTTIME_ROLES = ("parttime_worker", "unit_head", "building_head")


def _english_columns(frame: pd.DataFrame, wanted: Sequence[str] = ()) -> pd.DataFrame:
    """Workbook headers (Chinese or English) back to the table's column names. A header two
    columns share (``Grids`` is ``grids`` and ``grid_codes``, 党员数 ``party_members`` and
    ``members``) becomes the one of ``wanted`` the sheet is read for."""
    from .i18n import COLUMNS

    back: dict[str, list[str]] = {}
    for key, entry in COLUMNS.items():
        for lang in LANGS:
            names = back.setdefault(entry[lang], [])
            name = "name" if key == "person_name" else key
            if name not in names:
                names.append(name)

    def pick(header: object) -> str:
        names = back.get(str(header))
        if not names:
            return str(header)
        return next((n for n in names if n in wanted), names[0])

    return frame.rename(columns={c: pick(c) for c in frame.columns})


def _english_value(column: str, value: object) -> object:
    for key, entry in VALUES.get(column, {}).items():
        if value in (entry["zh"], entry["en"]):
            return key
    return value


def _masked(phone: object) -> str:
    from .staffing.plan import mask_phone

    if phone is None or (isinstance(phone, float) and math.isnan(phone)):
        return ""
    text = str(phone).strip()
    return text if "*" in text else str(mask_phone(text))


def _codes_in(value: object) -> list[str]:
    if isinstance(value, list | tuple | set | np.ndarray):
        return [str(v) for v in value]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    return [s for s in re.split(r"[;,，、\s]+", str(value)) if s]


#: the columns each staffing sheet is read for
_READ = {
    "assignments": ("grid_code", "microgrid_code", "role", "seq", "name", "phone"),
    "party": ("branch_id", "type", "members", "grid_codes"),
}


def _read_staffing(staffing: Any, *, interface: Interface) -> _Staff:
    if staffing is None:
        return _NO_STAFF
    if isinstance(staffing, str | Path):
        p = Path(staffing)
        what = "--staffing" if interface == "cli" else "staffing"
        if not p.is_file():
            raise ValidationError(
                [Problem(p.name, "missing_file", f"{what} workbook {str(p)!r} not found")]
            )
        try:
            sheets = pd.read_excel(p, sheet_name=None, dtype=str)
        except Exception as exc:  # not a workbook: say so in the user's words
            raise ValidationError(
                [
                    Problem(
                        p.name,
                        "format",
                        f"{what} {p.name!r} is not an Excel workbook ({exc}); pass the workbook "
                        "`gridplan staff` wrote",
                    )
                ]
            ) from exc

        def sheet(name: str) -> pd.DataFrame | None:
            for lang in LANGS:
                if sheet_label(name, lang) in sheets:
                    return _english_columns(sheets[sheet_label(name, lang)], _READ[name])
            return None

        assignments, party = sheet("assignments"), sheet("party")
        if assignments is None and party is None:
            raise ValidationError(
                [
                    Problem(
                        p.name,
                        "missing_sheet",
                        f"{what} {p.name!r} has no {sheet_label('assignments')} / "
                        f"{sheet_label('assignments', 'en')} sheet (it holds "
                        f"{', '.join(map(str, sheets))}); pass the workbook `gridplan staff "
                        "--roster` wrote",
                    )
                ]
            )
    else:
        assignments = getattr(staffing, "assignments", None)
        party = getattr(staffing, "party", None)
    people: dict[str, list[tuple[str, str, str]]] = {}
    micro: dict[str, list[tuple[str, str, str]]] = {}
    if assignments is not None and len(assignments):
        table = assignments.copy()
        if "seq" in table.columns:
            table["_seq"] = pd.to_numeric(table["seq"], errors="coerce")
            table = table.sort_values(["grid_code", "_seq"], kind="stable")
        for row in table.to_dict("records"):
            code = str(row.get("grid_code", ""))
            role = str(_english_value("role", row.get("role")))
            name = row.get("name")
            if not code or name is None or (isinstance(name, float) and math.isnan(name)):
                continue
            person = (role, str(name), _masked(row.get("phone")))
            people.setdefault(code, []).append(person)
            m_code = row.get("microgrid_code")
            if role in _PARTTIME_ROLES and isinstance(m_code, str) and m_code.strip():
                micro.setdefault(m_code.strip(), []).append(person)
    branches: dict[str, list[dict[str, Any]]] = {}
    if party is not None and len(party):
        for row in party.to_dict("records"):
            for code in _codes_in(row.get("grid_codes")):
                branches.setdefault(code, []).append(
                    {
                        "branch": str(row.get("branch_id", "")),
                        "type": str(_english_value("type", row.get("type"))),
                        "members": row.get("members"),
                    }
                )
    return _Staff(people, branches, micro)


# ---------------------------------------------------------------------------------------------
# colouring and labels
# ---------------------------------------------------------------------------------------------


def grid_colours(grids: gpd.GeoDataFrame, *, tolerance_m: float = 1.0) -> list[int]:
    """A palette index per grid (row order) such that grids that touch differ.

    Greedy colouring, most-connected grid first (ties by row order), so the same grids always
    get the same colours; planar maps rarely need more than five.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> row = [box(0, 0, 99, 99), box(99, 0, 198, 99), box(198, 0, 297, 99)]
    >>> g = gpd.GeoDataFrame(geometry=row, crs="EPSG:32650")
    >>> grid_colours(g)
    [1, 0, 1]
    """
    geoms = grids.geometry.to_numpy()
    n = len(geoms)
    tree = shapely.STRtree(geoms)
    left, right = tree.query(shapely.buffer(geoms, tolerance_m), predicate="intersects")
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a != b:
            neighbours[a].add(b)
            neighbours[b].add(a)
    order = sorted(range(n), key=lambda i: (-len(neighbours[i]), i))
    colour = [-1] * n
    for i in order:
        used = {colour[j] for j in neighbours[i]}
        c = 0
        while c in used:
            c += 1
        colour[i] = c
    return colour


def _short_code(code: str, community_code: str) -> str:
    """The grid's number within its community: the code's tail after the community's."""
    if community_code and code.startswith(community_code) and len(code) > len(community_code):
        return code[len(community_code) :]
    return code[-3:] if len(code) > 3 else code


def _em_width(text: str) -> float:
    """Width of ``text`` in ems (CJK characters one em, others about 0.6)."""
    return sum(1.0 if ord(ch) > 0x2E80 else 0.6 for ch in text)


class _Placer:
    """Label boxes already on the page (in points), so later labels avoid them."""

    def __init__(self) -> None:
        self.boxes: list[Any] = []

    def free(self, geom: Any) -> bool:
        return not any(geom.intersects(b) for b in self.boxes)

    def add(self, geom: Any) -> None:
        self.boxes.append(geom)


@dataclass
class _View:
    """A map axes' data window and its scale (points per metre)."""

    x0: float
    y0: float
    x1: float
    y1: float
    pt_per_m: float

    def to_pt(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.x0) * self.pt_per_m, (y - self.y0) * self.pt_per_m


def view_box(view: _View) -> tuple[float, float, float, float]:
    return view.x0, view.y0, view.x1, view.y1


def _fit_view(ax: Axes, bounds: Sequence[float], *, pad: float = 0.06) -> _View:
    """Set ``ax`` to show ``bounds`` (metres) at equal scale, filling the axes."""
    x0, y0, x1, y1 = bounds
    w, h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
    x0, x1, y0, y1 = x0 - w * pad, x1 + w * pad, y0 - h * pad, y1 + h * pad
    fig = ax.figure
    pos = ax.get_position()
    fw, fh = fig.get_figure(root=True).get_size_inches()
    ax_w, ax_h = pos.width * fw * _PT_PER_IN, pos.height * fh * _PT_PER_IN
    scale = min(ax_w / (x1 - x0), ax_h / (y1 - y0))
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    half_w, half_h = ax_w / scale / 2, ax_h / scale / 2
    ax.set_xlim(cx - half_w, cx + half_w)
    ax.set_ylim(cy - half_h, cy + half_h)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])
    return _View(cx - half_w, cy - half_h, cx + half_w, cy + half_h, scale)


def _label_point(geom: Any) -> tuple[Any, float]:
    """The point deepest inside ``geom`` (pole of inaccessibility) and its clearance (m)."""
    poly = geom
    if geom.geom_type == "MultiPolygon":
        poly = max(geom.geoms, key=lambda g: g.area)
    try:
        circle = shapely.maximum_inscribed_circle(poly, tolerance=max(poly.length / 2000, 0.05))
        centre = shapely.get_point(circle, 0)
        return centre, float(circle.length)
    except Exception:  # degenerate sliver: its representative point will do
        return poly.representative_point(), 0.0


def _text_box(x: float, y: float, w: float, h: float, angle: float = 0.0) -> Any:
    from shapely import affinity

    rect = shapely_box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    return affinity.rotate(rect, angle, origin=(x, y)) if angle else rect


def _place_grid_labels(
    ax: Axes,
    grids: gpd.GeoDataFrame,
    labels: Sequence[tuple[str, str]],
    view: _View,
    placer: _Placer,
    *,
    max_pt: float,
    min_pt: float,
) -> None:
    """Each grid's number and households: inside when they fit (shrunk down to ``min_pt``),
    else beside the grid with a leader line, never over another label."""
    pending: list[tuple[int, float, float]] = []
    for i, geom in enumerate(grids.geometry):
        number, households = labels[i]
        point, _ = _label_point(geom)
        px, py = view.to_pt(point.x, point.y)
        em_w = max(_em_width(number) * 1.25, _em_width(households))  # number is bold, larger
        em_h = 1.25 + 1.15
        shape = shapely.affinity.scale(
            geom, xfact=view.pt_per_m, yfact=view.pt_per_m, origin=(view.x0, view.y0)
        )
        shape = shapely.affinity.translate(shape, -view.x0, -view.y0)
        placed = False
        size = max_pt
        while size >= min_pt - 1e-9:
            rect = _text_box(px, py, em_w * size + 2, em_h * size)
            if shape.contains(rect) and placer.free(rect):
                _draw_label(ax, point.x, point.y, number, households, size)
                placer.add(rect)
                placed = True
                break
            size -= 0.5
        if not placed:
            pending.append((i, point.x, point.y))
    # small grids last, with leader lines to a free spot nearby
    size = min_pt + 0.5
    for i, x, y in pending:
        number, households = labels[i]
        em_w = max(_em_width(number) * 1.25, _em_width(households))
        w, h = em_w * size + 4, 2.4 * size + 2
        px, py = view.to_pt(x, y)
        best = None
        for ring in (1.4, 2.2, 3.2, 4.5, 6.5):
            for k in range(16):
                angle = math.radians(90 - k * 22.5)
                dx = math.cos(angle) * (w / 2 + h * ring)
                dy = math.sin(angle) * (h / 2 + h * ring)
                rect = _text_box(px + dx, py + dy, w, h)
                inside = rect.within(
                    shapely_box(
                        0,
                        0,
                        (view.x1 - view.x0) * view.pt_per_m,
                        (view.y1 - view.y0) * view.pt_per_m,
                    )
                )
                if inside and placer.free(rect):
                    best = (dx, dy, rect)
                    break
            if best is not None:
                break
        if best is None:  # crowded: stack outward regardless, but still legible
            dx, dy = 0.0, h * 7.5
            best = (dx, dy, _text_box(px + dx, py + dy, w, h))
        dx, dy, rect = best
        placer.add(rect)
        tx, ty = x + dx / view.pt_per_m, y + dy / view.pt_per_m
        ax.annotate(
            f"{number}\n{households}",
            xy=(x, y),
            xytext=(tx, ty),
            ha="center",
            va="center",
            fontsize=size,
            linespacing=1.0,
            zorder=9,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "#555555", "lw": 0.4},
            arrowprops={
                "arrowstyle": "-",
                "color": "#333333",
                "lw": 0.5,
                "shrinkA": 0,
                "shrinkB": 0,
            },
        )
        ax.plot([x], [y], marker="o", ms=1.2, color="#333333", zorder=9)


def _halo_text(ax: Axes, x: float, y: float, text: str, *, halo_pt: float, **style: Any) -> None:
    """Text with a white halo. The halo is a white outline drawn as a path under the text,
    and the text itself is plain text, so labels stay searchable and copyable in the PDF (a
    path effect on the text would turn the label itself into outlines)."""
    import matplotlib.patheffects as pe

    z = style.pop("zorder", 8)
    under = {**style, "color": "white"}
    ax.text(
        x,
        y,
        text,
        zorder=z - 0.01,
        path_effects=[pe.Stroke(linewidth=halo_pt, foreground="white")],
        **under,
    )
    ax.text(x, y, text, zorder=z, **style)


def _draw_label(ax: Axes, x: float, y: float, number: str, households: str, size: float) -> None:
    _halo_text(
        ax,
        x,
        y + size * 0.05,
        number,
        halo_pt=2.0,
        ha="center",
        va="bottom",
        fontsize=size * 1.25,
        fontweight="bold",
        zorder=8,
    )
    _halo_text(ax, x, y, households, halo_pt=2.0, ha="center", va="top", fontsize=size, zorder=8)


def _line_names(
    ax: Axes,
    lines: gpd.GeoDataFrame,
    view: _View,
    placer: _Placer,
    *,
    size: float,
    colour: str,
    limit: int = 40,
) -> None:
    """Names along the longest stretch of each named line that has room for them."""
    from shapely import affinity, line_merge

    if "name" not in lines.columns:
        return
    window = shapely_box(view.x0, view.y0, view.x1, view.y1)
    names = lines["name"].map(lambda v: v.strip() if isinstance(v, str) else "")
    # ids standing in for missing names (OSM way numbers) are not names to print
    named = lines[(names != "") & ~names.str.fullmatch(r"[\d/_.:-]+|way/\d+|osm_\S+")]
    if not len(named):
        return
    parts: list[tuple[float, str, Any]] = []
    for name, group in named.groupby(named["name"].astype(str), sort=True):
        merged = line_merge(shapely.union_all(group.geometry.to_numpy()).intersection(window))
        pieces = [merged] if merged.geom_type == "LineString" else getattr(merged, "geoms", [])
        pieces = [g for g in pieces if g.geom_type == "LineString" and g.length > 0]
        if pieces:
            longest = max(pieces, key=lambda g: g.length)
            parts.append((longest.length, str(name), longest))
    parts.sort(key=lambda p: (-p[0], p[1]))
    shown = 0
    for length, name, line in parts:
        if shown >= limit:
            break
        text_m = (_em_width(name) * size + 4) / view.pt_per_m
        if length < text_m * 1.2:
            continue
        for frac in (0.5, 0.3, 0.7, 0.15, 0.85):
            mid = line.interpolate(frac, normalized=True)
            a = line.interpolate(max(frac * length - text_m / 2, 0))
            b = line.interpolate(min(frac * length + text_m / 2, length))
            angle = math.degrees(math.atan2(b.y - a.y, b.x - a.x))
            if angle > 90:
                angle -= 180
            elif angle <= -90:
                angle += 180
            px, py = view.to_pt(mid.x, mid.y)
            rect = _text_box(px, py, _em_width(name) * size + 4, size * 1.3, angle)
            if placer.free(rect):
                placer.add(rect)
                _halo_text(
                    ax,
                    mid.x,
                    mid.y,
                    name,
                    halo_pt=1.8,
                    rotation=angle,
                    rotation_mode="anchor",
                    ha="center",
                    va="center",
                    fontsize=size,
                    color=colour,
                    zorder=7,
                )
                shown += 1
                break
    del affinity


def _scale_bar(ax: Axes, view: _View, *, lang: Lang, size: float) -> None:
    width_m = view.x1 - view.x0
    target = width_m / 5
    nice = [10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000]
    length = max((n for n in nice if n <= target), default=nice[0])
    x0 = view.x0 + width_m * 0.03
    y0 = view.y0 + (view.y1 - view.y0) * 0.03
    bar_h = 4 / view.pt_per_m
    for k in range(4):
        ax.add_patch(
            _rect(
                x0 + k * length / 4,
                y0,
                length / 4,
                bar_h,
                fc="black" if k % 2 == 0 else "white",
            )
        )
    unit = t("print_metres", lang)
    for frac in (0.0, 0.5, 1.0):
        value = length * frac
        text = f"{value / 1000:g} km" if length >= 1000 else f"{value:g}"
        ax.text(x0 + length * frac, y0 + bar_h * 1.6, text, ha="center", va="bottom", fontsize=size)
    if length < 1000:
        ax.text(x0 + length + 6 / view.pt_per_m, y0, unit, ha="left", va="bottom", fontsize=size)
    # paper scale: metres on the ground per metre of paper
    # paper scale: metres on the ground per metre of paper
    ratio = 1 / (view.pt_per_m / _PT_PER_IN * 0.0254)
    ax.text(
        x0,
        y0 - bar_h * 1.2,
        t("print_scale", lang, ratio=f"{_round_ratio(ratio):,}"),
        ha="left",
        va="top",
        fontsize=size,
    )


def _round_ratio(ratio: float) -> int:
    if ratio <= 0:
        return 0
    digits = 10 ** max(int(math.log10(ratio)) - 1, 0)
    return int(round(ratio / digits) * digits)


def _rect(x: float, y: float, w: float, h: float, **style: Any) -> Any:
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), w, h, lw=0.6, ec="black", zorder=10, **style)


def _north_arrow(ax: Axes, *, lang: Lang, size: float) -> None:
    ax.annotate(
        "",
        xy=(0.96, 0.95),
        xytext=(0.96, 0.86),
        xycoords="axes fraction",
        arrowprops={
            "arrowstyle": "-|>,head_width=0.5,head_length=1.0",
            "lw": 1.5,
            "color": "black",
        },
        zorder=10,
    )
    ax.text(
        0.96,
        0.955,
        t("print_north", lang),
        transform=ax.transAxes,
        ha="center",
        va="bottom",
        fontsize=size,
        fontweight="bold",
        zorder=10,
    )


# ---------------------------------------------------------------------------------------------
# layers on a map
# ---------------------------------------------------------------------------------------------


def _plot_polys(ax: Axes, geoms: Iterable[Any], **style: Any) -> None:
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch
    from matplotlib.path import Path as MplPath

    patches = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        polys = geom.geoms if hasattr(geom, "geoms") else [geom]
        for poly in polys:
            if poly.geom_type != "Polygon":
                continue
            verts: list[Any] = []
            codes: list[Any] = []
            for ring in (poly.exterior, *poly.interiors):
                xy = np.asarray(ring.coords)[:, :2]
                verts.extend(xy)
                codes.extend(
                    [MplPath.MOVETO] + [MplPath.LINETO] * (len(xy) - 2) + [MplPath.CLOSEPOLY]
                )
            patches.append(PathPatch(MplPath(np.asarray(verts), codes)))
    if patches:
        ax.add_collection(PatchCollection(patches, match_original=False, **style))


def _plot_lines(ax: Axes, geoms: Iterable[Any], **style: Any) -> None:
    from matplotlib.collections import LineCollection

    segments = []
    for geom in geoms:
        if geom is None or geom.is_empty:
            continue
        if geom.geom_type in ("Polygon", "MultiPolygon"):
            geom = geom.boundary
        lines = geom.geoms if hasattr(geom, "geoms") else [geom]
        for line in lines:
            if line.geom_type == "LineString":
                segments.append(np.asarray(line.coords)[:, :2])
            elif line.geom_type == "LinearRing":
                segments.append(np.asarray(line.coords)[:, :2])
    if segments:
        ax.add_collection(LineCollection(segments, **style))


def _barrier_style(cls: str) -> dict[str, Any]:
    cls = cls.lower()
    if "rail" in cls:
        return {"colors": "#222222", "linewidths": 1.6, "linestyles": (0, (4, 2))}
    if any(w in cls for w in ("river", "water", "canal", "stream")):
        return {"colors": "#3b7dd8", "linewidths": 1.8}
    return {"colors": "#b2182b", "linewidths": 1.1}


def _clip(frame: gpd.GeoDataFrame | None, window: Any) -> gpd.GeoDataFrame | None:
    if frame is None or not len(frame):
        return None
    hits = frame[frame.intersects(window)]
    if not len(hits):
        return None
    out = hits.copy()
    out["geometry"] = hits.geometry.intersection(window)
    return out[~out.geometry.is_empty]


# ---------------------------------------------------------------------------------------------
# pages
# ---------------------------------------------------------------------------------------------


@dataclass
class _Community:
    code: str
    name: str
    street: str
    grids: gpd.GeoDataFrame  # sorted by grid_code
    outline: Any  # the community's boundary, or None when the plan has no communities layer

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        geom = self.outline if self.outline is not None else self.grids.geometry
        return tuple(geom.bounds) if self.outline is not None else tuple(geom.total_bounds)


def _communities(
    frames: _Frames, *, community: str | None, interface: Interface
) -> list[_Community]:
    grids = frames.grids
    names: dict[str, str] = {}
    outlines: dict[str, Any] = {}
    comm_layer = frames.context.get("communities")
    street_names: dict[str, str] = {}
    streets = frames.context.get("streets")
    if streets is not None and "street_id" in streets.columns and "name" in streets.columns:
        street_names = dict(
            zip(streets["street_id"].astype(str), streets["name"].astype(str), strict=True)
        )
    if comm_layer is not None and "community_id" in comm_layer.columns:
        ids = comm_layer["community_id"].astype(str)
        if "name" in comm_layer.columns:
            names = {
                i: str(n)
                for i, n in zip(ids, comm_layer["name"], strict=True)
                if isinstance(n, str) and n
            }
        outlines = dict(zip(ids, comm_layer.geometry, strict=True))
    out: list[_Community] = []
    for code, members in grids.groupby("community_code", sort=True):
        members = members.sort_values("grid_code", kind="stable")
        cid = (
            str(members["community_id"].dropna().iloc[0])
            if "community_id" in members.columns and members["community_id"].notna().any()
            else ""
        )
        sid = (
            str(members["street_id"].dropna().iloc[0])
            if "street_id" in members.columns and members["street_id"].notna().any()
            else ""
        )
        name = names.get(cid) or cid or str(code) or "-"
        outline = outlines.get(cid)
        out.append(_Community(str(code), name, street_names.get(sid, sid), members, outline))
    if community is not None:
        wanted = str(community)
        chosen = [c for c in out if wanted in (c.code, c.name) or wanted == _cid(c)]
        if not chosen:
            flag = {"cli": "--community", "app": "community"}.get(interface, "community=")
            known = ", ".join(f"{c.code} ({c.name})" for c in out[:20])
            raise ValidationError(
                [
                    Problem(
                        "community",
                        "unknown_community",
                        f"{flag} {wanted!r} is not a community of this plan; expected one of "
                        f"{known}",
                    )
                ]
            )
        out = chosen
    return out


def _cid(c: _Community) -> str:
    if "community_id" in c.grids.columns and c.grids["community_id"].notna().any():
        return str(c.grids["community_id"].dropna().iloc[0])
    return ""


def _figure(paper: Paper, *, landscape: bool) -> Figure:
    from matplotlib.figure import Figure

    long, short = PAPERS[paper]
    w, h = (long, short) if landscape else (short, long)
    return Figure(figsize=(w * _MM, h * _MM))


def _micro_outlines(frames: _Frames, codes: Iterable[str]) -> list[Any]:
    micro = frames.microgrids
    if micro is None or "grid_code" not in micro.columns:
        return []
    keep = micro[micro["grid_code"].astype(str).isin(set(codes))]
    return list(keep.geometry)


def _draw_context(ax: Axes, frames: _Frames, window: Any, *, lang: Lang) -> list[tuple[str, dict]]:
    """Compounds, roads and barriers clipped to ``window``; returns what the legend shows."""
    shown: list[tuple[str, dict]] = []
    compounds = _clip(frames.context.get("compounds"), window)
    if compounds is not None:
        _plot_lines(
            ax,
            compounds.geometry,
            colors="#8c510a",
            linewidths=0.6,
            linestyles=(0, (1, 1)),
            zorder=4,
        )
        shown.append(("compound", {"color": "#8c510a", "lw": 0.6, "ls": (0, (1, 1))}))
    roads = _clip(frames.context.get("roads"), window)
    if roads is not None:
        _plot_lines(ax, roads.geometry, colors="#777777", linewidths=0.7, zorder=5)
        shown.append(("road", {"color": "#777777", "lw": 0.7}))
    barriers = _clip(frames.context.get("barriers"), window)
    if barriers is not None:
        classes = (
            barriers["barrier_class"].fillna("").astype(str)
            if "barrier_class" in barriers.columns
            else pd.Series("", index=barriers.index)
        )
        for cls in sorted(set(classes)):
            part = barriers[classes == cls]
            _plot_lines(ax, part.geometry, zorder=6, **_barrier_style(cls))
        shown.append(("barrier", {"color": "#b2182b", "lw": 1.4}))
    return shown


def _wallmap_pages(
    community: _Community,
    frames: _Frames,
    *,
    paper: Paper,
    lang: Lang,
    stamp: str,
) -> list[Figure]:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    s = 1.0 if paper == "A3" else 0.75
    fig = _figure(paper, landscape=True)
    grids = community.grids
    households = [int(h) for h in grids["households"].fillna(0)]
    numbers = [_short_code(c, community.code) for c in grids["grid_code"]]
    n_micro = (
        [int(v) for v in grids["n_microgrids"].fillna(0)]
        if "n_microgrids" in grids.columns
        else [0] * len(grids)
    )
    street = t("print_street", lang, street=community.street) if community.street else ""
    fig.text(
        0.03,
        0.955,
        t("print_map_title", lang, community=community.name),
        fontsize=22 * s,
        fontweight="bold",
        va="bottom",
    )
    fig.text(
        0.03,
        0.935,
        t(
            "print_map_subtitle",
            lang,
            street=street,
            n=len(grids),
            households=f"{sum(households):,}",
            microgrids=f"{sum(n_micro):,}",
        ),
        fontsize=11 * s,
        va="top",
        color="#333333",
    )
    fig.text(0.97, 0.955, stamp, fontsize=10 * s, ha="right", va="bottom", color="#333333")
    fig.text(0.03, 0.02, t("print_basemap_note", lang), fontsize=7 * s, color="#555555")

    ax = fig.add_axes((0.03, 0.06, 0.64, 0.85))
    for spine in ax.spines.values():
        spine.set_linewidth(0.8)
    view = _fit_view(ax, community.bounds)
    window = shapely_box(view.x0, view.y0, view.x1, view.y1)
    # the neighbouring communities' grids in grey, so the page shows where it sits
    others = frames.grids[
        (frames.grids["community_code"] != community.code) & frames.grids.intersects(window)
    ]
    if len(others):
        _plot_polys(
            ax,
            others.geometry.intersection(window),
            facecolor="#f2f2f2",
            edgecolor="#cccccc",
            linewidth=0.4,
            zorder=1,
        )
    colours = grid_colours(grids)
    dedicated = (grids["kind"].astype(str) == "dedicated").to_numpy()
    for i, geom in enumerate(grids.geometry):
        _plot_polys(
            ax,
            [geom],
            facecolor=PALETTE[colours[i] % len(PALETTE)],
            edgecolor="#333333",
            linewidth=0.9,
            zorder=2,
            hatch="////" if dedicated[i] else None,
        )
    _plot_lines(
        ax,
        _micro_outlines(frames, grids["grid_code"]),
        colors="#555555",
        linewidths=0.35,
        linestyles=(0, (3, 2)),
        zorder=3,
    )
    shown = _draw_context(ax, frames, window, lang=lang)
    if community.outline is not None:
        _plot_lines(ax, [community.outline], colors="black", linewidths=2.2, zorder=7)
    placer = _Placer()
    hh_text = [t("print_hh", lang, n=h) for h in households]
    _place_grid_labels(
        ax, grids, list(zip(numbers, hh_text, strict=True)), view, placer, max_pt=11 * s, min_pt=5.0
    )
    for role in ("barriers", "roads"):
        lines = _clip(frames.context.get(role), window)
        if lines is not None:
            _line_names(
                ax,
                lines,
                view,
                placer,
                size=6.5 * s,
                colour="#7f0000" if role == "barriers" else "#444444",
            )
    _scale_bar(ax, view, lang=lang, size=7 * s)
    _north_arrow(ax, lang=lang, size=12 * s)

    # legend
    handles: list[Any] = [
        Patch(facecolor=PALETTE[0], edgecolor="#333333", label=t("print_legend_grid", lang)),
    ]
    if dedicated.any():
        handles.append(
            Patch(
                facecolor="white",
                edgecolor="#333333",
                hatch="////",
                label=t("print_legend_dedicated", lang),
            )
        )
    if community.outline is not None:
        handles.append(
            Line2D([], [], color="black", lw=2.2, label=t("print_legend_community", lang))
        )
    if frames.microgrids is not None:
        handles.append(
            Line2D(
                [],
                [],
                color="#555555",
                lw=0.6,
                ls=(0, (3, 2)),
                label=t("print_legend_microgrid", lang),
            )
        )
    for key, style in shown:
        handles.append(Line2D([], [], label=t(f"print_legend_{key}", lang), **style))
    legend_ax = fig.add_axes((0.70, 0.66, 0.28, 0.25))
    legend_ax.axis("off")
    legend_ax.legend(
        handles=handles,
        loc="upper left",
        title=t("print_legend", lang),
        fontsize=8 * s,
        title_fontsize=9 * s,
        frameon=False,
        alignment="left",
    )
    legend_ax.text(
        0.0, 0.0, t("print_legend_label", lang), fontsize=8 * s, transform=legend_ax.transAxes
    )

    rows = [
        (
            numbers[i],
            str(code),
            f"{households[i]:,}",
            str(n_micro[i]),
            str(value_label("kind", str(k), lang)),
        )
        for i, (code, k) in enumerate(zip(grids["grid_code"], grids["kind"], strict=True))
    ]
    pages = [fig]
    chunks = _table_chunks(
        rows,
        height=0.60 * (PAPERS[paper][1] * _MM * _PT_PER_IN),
        width=0.28 * PAPERS[paper][0] * _MM * _PT_PER_IN,
    )
    first, rest = chunks[0], chunks[1:]
    _code_table(
        fig, first, box=(0.70, 0.06, 0.28, 0.58), lang=lang, title=t("print_code_table", lang)
    )
    for chunk in rest:
        more = _figure(paper, landscape=True)
        more.text(
            0.03,
            0.955,
            t("print_map_title", lang, community=community.name),
            fontsize=18 * s,
            fontweight="bold",
            va="bottom",
        )
        more.text(0.97, 0.955, stamp, fontsize=10 * s, ha="right", va="bottom", color="#333333")
        _code_table(
            more,
            chunk,
            box=(0.03, 0.06, 0.94, 0.85),
            lang=lang,
            title=t("print_code_table_more", lang),
        )
        pages.append(more)
    return pages


@dataclass
class _Chunk:
    rows: Sequence[tuple[str, ...]]
    columns: int
    size: float


def _table_chunks(rows: Sequence[tuple[str, ...]], *, height: float, width: float) -> list[_Chunk]:
    """Split the code table into pages: the largest font (8 to 4.5 pt) and fewest columns that
    hold the rows in the first page's box; what does not fit at 4.5 pt continues overleaf."""
    em = 2.5 + 10.5 + 4.5 + 3.5 + 5.0  # widths of the five columns in ems, plus gaps
    for size in np.arange(8.0, 4.49, -0.5):
        for cols in (1, 2, 3):
            per_col = int((height - size * 3) // (size * 1.45))
            if cols * em * size <= width and per_col * cols >= len(rows):
                return [_Chunk(rows, cols, float(size))]
    size = 4.5
    cols = max(1, int(width // (em * size)))
    per_page = max(1, int((height - size * 3) // (size * 1.45))) * cols
    first = [_Chunk(rows[:per_page], cols, size)]
    # continuation pages use the whole sheet (about 1.6x the height, 3.4x the width)
    big_cols = max(1, int(width * 3.3 // (em * 6.0)))
    big_per = max(1, int((height * 1.4 - 18) // (6.0 * 1.45))) * big_cols
    rest = rows[per_page:]
    return first + [
        _Chunk(rest[k : k + big_per], big_cols, 6.0) for k in range(0, len(rest), big_per)
    ]


def _code_table(
    fig: Figure, chunk: _Chunk, *, box: tuple[float, float, float, float], lang: Lang, title: str
) -> None:
    x, y, w, h = box
    fw, fh = (v * _PT_PER_IN for v in fig.get_size_inches())
    size = chunk.size
    fig.text(x, y + h, title, fontsize=size * 1.4, fontweight="bold", va="top")
    headers = (
        t("print_col_no", lang),
        t("print_col_code", lang),
        t("print_col_households", lang),
        t("print_col_microgrids", lang),
        t("print_col_kind", lang),
    )
    offsets = np.cumsum([0.0, 2.5, 10.5, 4.5, 3.5]) * size / fw  # ems -> figure fraction
    per_col = math.ceil(len(chunk.rows) / chunk.columns)
    col_w = w / chunk.columns
    line = size * 1.45 / fh
    top = y + h - size * 2.6 / fh
    for c in range(chunk.columns):
        part = chunk.rows[c * per_col : (c + 1) * per_col]
        if not part:
            continue
        x0 = x + c * col_w
        for k, head in enumerate(headers):
            fig.text(x0 + offsets[k], top, head, fontsize=size, fontweight="bold", va="top")
        for r, row in enumerate(part):
            yy = top - (r + 1) * line
            for k, cell in enumerate(row):
                fig.text(x0 + offsets[k], yy, cell, fontsize=size, va="top")


def _unit_names(units: gpd.GeoDataFrame | None) -> dict[str, list[str]]:
    """Micro-grid code -> the buildings it covers, by their names or numbers."""
    if units is None or "microgrid_code" not in units.columns:
        return {}

    def text(col: str) -> pd.Series:
        return units[col].map(lambda v: str(v).strip() if isinstance(v, str | int) else "")

    id_col = "unit_id" if "unit_id" in units.columns else str(units.columns[0])
    names = text(id_col)
    if "blk_no" in units.columns:
        blk = text("blk_no")
        with_street = (text("street") + " " + blk).str.strip() if "street" in units.columns else blk
        names = with_street.where(blk != "", names)
    for col in ("name", "address"):  # the most specific wins where it is given
        if col in units.columns:
            given = text(col)
            names = given.where(given != "", names)
    out: dict[str, list[str]] = {}
    for codes, name in zip(units["microgrid_code"], names, strict=True):
        for code in _codes_in(codes):
            bucket = out.setdefault(code, [])
            if name and name not in bucket:
                bucket.append(name)
    return out


def _scope_text(names: list[str], *, max_em: float, lang: Lang) -> str:
    if not names:
        return ""
    shown: list[str] = []
    for k, name in enumerate(names):
        trial = "、".join([*shown, name]) if lang == "zh" else ", ".join([*shown, name])
        rest = len(names) - k - 1
        suffix = (" " + t("print_more_units", lang, n=rest)) if rest else ""
        if _em_width(trial + suffix) > max_em and shown:
            more = len(names) - len(shown)
            base = "、".join(shown) if lang == "zh" else ", ".join(shown)
            return f"{base} {t('print_more_units', lang, n=more)}"
        shown.append(name)
    return "、".join(shown) if lang == "zh" else ", ".join(shown)


def _board_page(
    grid: pd.Series,
    community: _Community,
    frames: _Frames,
    staff: _Staff,
    unit_names: dict[str, list[str]],
    *,
    paper: Paper,
    lang: Lang,
    stamp: str,
) -> list[Figure]:
    """A grid's notice board: one page, and continuation pages for micro-grids that do not
    fit on it."""
    s = 1.0 if paper == "A3" else 0.72
    fig = _figure(paper, landscape=False)
    code = str(grid["grid_code"])
    number = _short_code(code, community.code)
    dedicated = str(grid.get("kind", "residential")) == "dedicated"
    subtitle = t("print_board_subtitle", lang, community=community.name, no=number)
    _board_header(fig, t("print_board_title", lang), subtitle, code, s=s)

    # facts
    def value(col: str) -> Any:
        v = grid.get(col)
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return v

    kind_text = str(value_label("kind", str(grid.get("kind", "residential")), lang))
    category = value("category")
    if category and str(category) not in ("residential", str(grid.get("kind"))):
        words = value_label("category", str(category), lang)
        kind_text += f"（{words}）" if lang == "zh" else f" ({words})"
    name = value("name")
    if name:
        kind_text += f" · {name}"
    population = value("population")
    estimated = bool(grid.get("population_estimated", False))
    party_members = value("party_members")
    facts = [
        (t("print_fact_code", lang), code),
        (
            t("print_fact_community", lang),
            f"{community.name}（{community.code}）"
            if lang == "zh"
            else f"{community.name} ({community.code})",
        ),
    ]
    if community.street:
        facts.append((t("print_fact_street", lang), community.street))
    facts += [
        (t("print_fact_kind", lang), kind_text),
        (t("print_fact_households", lang), f"{int(value('households') or 0):,}"),
        (
            t("print_fact_population_est" if estimated else "print_fact_population", lang),
            f"{round(float(population)):,}" if population is not None else "—",
        ),
        (
            t("print_fact_party", lang),
            f"{int(party_members):,}" if party_members is not None else "—",
        ),
        (t("print_fact_microgrids", lang), f"{int(value('n_microgrids') or 0):,}"),
        (t("print_fact_units", lang), f"{int(value('n_units') or 0):,}"),
    ]
    fig.text(0.05, 0.835, t("print_facts", lang), fontsize=15 * s, fontweight="bold", va="top")
    yy = 0.80
    for label, text in facts:
        fig.text(0.05, yy, label, fontsize=11 * s, color="#555555", va="top")
        fig.text(0.20, yy, text, fontsize=11 * s, va="top", wrap=False)
        yy -= 0.026

    # locator map
    loc = fig.add_axes((0.58, 0.60, 0.37, 0.27))
    loc.set_title(t("print_locator", lang), fontsize=11 * s, loc="left")
    view = _fit_view(loc, community.bounds, pad=0.05)
    _plot_polys(
        loc,
        community.grids.geometry,
        facecolor="#eeeeee",
        edgecolor="#999999",
        linewidth=0.4,
        zorder=1,
    )
    _plot_polys(
        loc, [grid.geometry], facecolor="#b2182b", edgecolor="#67000d", linewidth=0.8, zorder=2
    )
    if community.outline is not None:
        _plot_lines(loc, [community.outline], colors="black", linewidths=1.2, zorder=3)
    barriers = _clip(frames.context.get("barriers"), shapely_box(*view_box(view)))
    if barriers is not None:
        _plot_lines(loc, barriers.geometry, colors="#c99", linewidths=0.6, zorder=1.5)
    pt, _ = _label_point(grid.geometry)
    loc.text(
        pt.x,
        pt.y,
        number,
        ha="center",
        va="center",
        fontsize=8 * s,
        color="white",
        fontweight="bold",
        zorder=4,
    )
    _north_arrow(loc, lang=lang, size=8 * s)

    # staff
    fig.text(0.05, 0.555, t("print_staff", lang), fontsize=15 * s, fontweight="bold", va="top")
    people = staff.people.get(code, [])
    roles = ["grid_head", "fulltime_worker"] if not dedicated else ["grid_head", "contact"]
    role_label = {
        "grid_head": t("print_staff_grid_head", lang),
        "fulltime_worker": t("print_staff_fulltime", lang),
        "contact": t("print_staff_contact", lang),
    }
    yy = 0.52
    for role in roles:
        named = [p for p in people if p[0] == role]
        if not named:
            named = [(role, "", "")]
        for _, person, phone in named:
            fig.text(0.05, yy, role_label[role], fontsize=12 * s, color="#555555", va="top")
            if person:
                fig.text(0.22, yy, person, fontsize=13 * s, fontweight="bold", va="top")
                fig.text(
                    0.50,
                    yy,
                    f"{t('print_staff_phone', lang)}  {phone or '—'}",
                    fontsize=12 * s,
                    va="top",
                )
            else:
                fig.text(0.22, yy, "_" * 16, fontsize=12 * s, va="top", color="#777777")
                fig.text(
                    0.50,
                    yy,
                    f"{t('print_staff_phone', lang)}  " + "_" * 16,
                    fontsize=12 * s,
                    va="top",
                    color="#777777",
                )
            yy -= 0.03
    if not people:
        fig.text(0.05, yy, t("print_staff_blank", lang), fontsize=9 * s, color="#777777", va="top")
        yy -= 0.02

    # party
    yy -= 0.01
    fig.text(0.05, yy, t("print_party", lang), fontsize=15 * s, fontweight="bold", va="top")
    yy -= 0.033
    branches = staff.party.get(code, [])
    if branches:
        for b in branches:
            members = b.get("members")
            m = (
                "—"
                if members is None or (isinstance(members, float) and math.isnan(members))
                else str(members)
            )
            kind = str(value_label("type", b.get("type"), lang))
            fig.text(
                0.05,
                yy,
                t("print_party_branch", lang, branch=b["branch"], type=kind, members=m),
                fontsize=11 * s,
                va="top",
            )
            yy -= 0.024
    else:
        fig.text(0.05, yy, t("print_party_blank", lang), fontsize=11 * s, va="top", color="#555555")
        yy -= 0.024

    # micro-grids
    yy -= 0.012
    fig.text(0.05, yy, t("print_micro_title", lang), fontsize=15 * s, fontweight="bold", va="top")
    yy -= 0.033
    rows = _micro_rows(code, frames, staff, unit_names)
    done = 0
    if not rows:
        fig.text(
            0.05,
            yy,
            t("print_micro_none", lang) if dedicated else t("print_none", lang),
            fontsize=11 * s,
            va="top",
        )
    else:
        done = _micro_table(fig, rows, top=yy, code=code, s=s, lang=lang)
    _board_footer(fig, lang=lang, stamp=stamp, s=s)
    pages = [fig]
    # micro-grids that do not fit at a legible size continue on further boards
    while done < len(rows):
        more = _figure(paper, landscape=False)
        _board_header(more, t("print_board_more", lang), subtitle, code, s=s)
        more.text(
            0.05,
            0.835,
            t("print_micro_more", lang),
            fontsize=15 * s,
            fontweight="bold",
            va="top",
        )
        done += _micro_table(more, rows[done:], top=0.80, code=code, s=s, lang=lang)
        _board_footer(more, lang=lang, stamp=stamp, s=s)
        pages.append(more)
    return pages


def _board_header(fig: Figure, title: str, subtitle: str, code: str, *, s: float) -> None:
    """The red band of a notice board with its title, community and grid number, and the
    grid's full code under it."""
    from matplotlib.patches import Rectangle

    fig.patches.append(
        Rectangle(
            (0, 0.905), 1, 0.095, transform=fig.transFigure, fc="#b2182b", ec="none", zorder=0
        )
    )
    fig.text(0.05, 0.955, title, fontsize=34 * s, fontweight="bold", color="white", va="center")
    fig.text(0.95, 0.955, subtitle, fontsize=16 * s, color="white", va="center", ha="right")
    fig.text(0.05, 0.885, code, fontsize=22 * s, fontweight="bold", va="top")


def _board_footer(fig: Figure, *, lang: Lang, stamp: str, s: float) -> None:
    fig.text(0.05, 0.025, t("print_hotline", lang), fontsize=10 * s, va="bottom")
    fig.text(0.95, 0.025, stamp, fontsize=9 * s, va="bottom", ha="right", color="#555555")


@dataclass(frozen=True)
class _MicroRow:
    code: str
    households: str
    scope: list[str]  # address ranges (a roster plan) or the buildings it covers
    workers: list[tuple[str, str]]  # part-time workers: (name, masked phone)


def _micro_rows(
    code: str, frames: _Frames, staff: _Staff, unit_names: dict[str, list[str]]
) -> list[_MicroRow]:
    """The micro-grids of grid ``code`` with their address ranges (the ``addresses`` a roster
    plan gives them, e.g. ``3号楼1单元1–7层``; else the buildings they cover) and the
    part-time workers the staffing names."""
    micro = frames.microgrids
    if micro is None or "grid_code" not in micro.columns:
        return []
    mine = micro[micro["grid_code"].astype(str) == code].sort_values("microgrid_code")
    given = (
        mine["addresses"].to_numpy(dtype=object)
        if "addresses" in mine.columns
        else [None] * len(mine)
    )
    rows = []
    for m_code, hh, addr in zip(
        mine["microgrid_code"].astype(str), mine["households"], given, strict=True
    ):
        ranges = [a for a in re.split(r"[；;]", addr) if a.strip()] if isinstance(addr, str) else []
        workers = [(name, phone) for _, name, phone in staff.micro.get(m_code, [])]
        households = "—" if pd.isna(hh) else f"{int(hh):,}"
        rows.append(_MicroRow(m_code, households, ranges or unit_names.get(m_code, []), workers))
    return rows


def _workers_text(workers: list[tuple[str, str]], *, max_em: float, lang: Lang) -> str:
    """Part-time workers with masked phones where they fit, else their names only."""
    sep = "、" if lang == "zh" else ", "
    full = sep.join(f"{n} {p}".strip() for n, p in workers)
    if _em_width(full) <= max_em:
        return full
    return _scope_text([n for n, _ in workers], max_em=max_em, lang=lang)


#: the smallest type a micro-grid row is set in on an A3 board (scaled for A4); rows that
#: would need smaller type continue on the next board
_MICRO_MIN_PT = 8.0


def _micro_table(
    fig: Figure, rows: Sequence[_MicroRow], *, top: float, code: str, s: float, lang: Lang
) -> int:
    """Draw as many micro-grid rows as fit between ``top`` and the footer (shrinking the type
    down to :data:`_MICRO_MIN_PT`); returns how many were drawn."""
    fw, fh = (v * _PT_PER_IN for v in fig.get_size_inches())
    bottom = 0.07
    avail = (top - bottom) * fh
    size = min(10.0 * s, max(avail / ((len(rows) + 1) * 1.55), _MICRO_MIN_PT * s))
    line = size * 1.55 / fh
    fits = max(1, int(avail // (size * 1.55)) - 1)
    shown = rows[:fits]
    cols = [0.05, 0.20, 0.28, 0.64]
    heads = [
        t("print_col_micro", lang),
        t("print_col_households", lang),
        t("print_col_scope", lang),
        t("print_col_parttime", lang),
    ]
    for x, head in zip(cols, heads, strict=True):
        fig.text(x, top, head, fontsize=size, fontweight="bold", va="top")
    scope_em = (cols[3] - cols[2]) * fw / size - 1.5
    worker_em = (0.96 - cols[3]) * fw / size
    for r, row in enumerate(shown):
        y_row = top - (r + 1) * line
        fig.text(cols[0], y_row, _short_code(row.code, code), fontsize=size, va="top")
        fig.text(cols[1], y_row, row.households, fontsize=size, va="top")
        fig.text(
            cols[2],
            y_row,
            _scope_text(row.scope, max_em=scope_em, lang=lang),
            fontsize=size,
            va="top",
        )
        if row.workers:
            who = _workers_text(row.workers, max_em=worker_em, lang=lang)
            fig.text(cols[3], y_row, who, fontsize=size, va="top")
        else:
            fig.text(cols[3], y_row, "_" * 14, fontsize=size, va="top", color="#777777")
    return len(shown)


# ---------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------


def print_plan(
    plan: Any,
    *,
    out: str | Path,
    staffing: Any = None,
    paper: Paper = "A3",
    lang: Lang = "zh",
    community: str | None = None,
    version: str | None = None,
    font: str | Path | None = None,
    force: bool = False,
    interface: Interface = "python",
) -> PrintResult:
    """Print a plan: ``out/wallmaps.pdf`` (one page per community) and ``out/boards.pdf``
    (one notice board per grid).

    Parameters
    ----------
    plan
        A :class:`gridplan.Plan`, or the path of the GeoPackage ``gridplan plan`` wrote (its
        context layers, when present, give the roads, barriers, compounds and community
        outlines).
    out
        Folder to write the two PDFs into (created when missing).
    staffing
        The workbook ``gridplan staff`` wrote (Chinese or English), or a
        :class:`gridplan.Staffing`: names and masked phones of grid heads, full-time
        workers and each micro-grid's part-time workers, and party branches. Without it
        the boards carry blank lines to fill in by hand.
    paper
        ``"A3"`` (default) or ``"A4"``; wall maps are landscape, boards portrait.
    lang
        ``"zh"`` (default) or ``"en"``: every printed word.
    community
        Print only this community (its code, id or name).
    version
        Printed under the title (e.g. ``"2025-06 第2版"``); the print date when omitted.
    font
        A font file or installed family for the text; a CJK font is looked up when omitted
        (:func:`find_cjk_font`).
    force
        Overwrite ``wallmaps.pdf`` / ``boards.pdf`` if they exist.
    interface
        Whose words errors name options in (``cli`` for ``--font``, ``--force``...).

    Returns
    -------
    PrintResult

    Raises
    ------
    ValidationError
        Before anything is drawn: a bad option, an existing output without ``force``, no CJK
        font, an unknown community, a plan or workbook that cannot be read.
    """
    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    folder, targets = _check_options(
        plan, out=out, paper=paper, lang=lang, force=force, interface=interface
    )
    font_path = find_cjk_font(font, interface=interface)
    frames = _read_plan(plan, interface=interface)
    staff = _read_staffing(staffing, interface=interface)
    chosen = _communities(frames, community=community, interface=interface)
    stamp = (
        t("print_version", lang, version=version)
        if version
        else t("print_printed", lang, date=date.today().isoformat())
    )
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(font_path))
    family = font_manager.FontProperties(fname=str(font_path)).get_name()
    folder.mkdir(parents=True, exist_ok=True)
    unit_names = _unit_names(frames.units)
    style: dict[str, Any] = {
        "font.family": [family],
        "pdf.fonttype": 42,  # TrueType: searchable, copyable text
        "pdf.compression": 6,
        "hatch.linewidth": 0.5,
        "hatch.color": "#555555",
        "axes.unicode_minus": False,
        "svg.hashsalt": "gridplan",
        "path.simplify": True,
    }
    wall_pages = board_pages = 0
    grid_codes: list[str] = []
    tmp = [target.with_name(f".{target.stem}.partial.pdf") for target in targets]
    # the font has one weight: say nothing each time a label asks for bold
    fm_log = logging.getLogger("matplotlib.font_manager")
    level = fm_log.level
    fm_log.setLevel(logging.ERROR)
    try:
        with matplotlib.rc_context(style):  # type: ignore[arg-type]
            with PdfPages(tmp[0], metadata=_metadata(lang, "wallmaps")) as pdf:
                for c in chosen:
                    for page in _wallmap_pages(c, frames, paper=paper, lang=lang, stamp=stamp):
                        pdf.savefig(page)
                        wall_pages += 1
            with PdfPages(tmp[1], metadata=_metadata(lang, "boards")) as pdf:
                for c in chosen:
                    for _, grid in c.grids.iterrows():
                        for page in _board_page(
                            grid, c, frames, staff, unit_names, paper=paper, lang=lang, stamp=stamp
                        ):
                            pdf.savefig(page)
                            board_pages += 1
                        grid_codes.append(str(grid["grid_code"]))
    except BaseException:
        for partial in tmp:
            partial.unlink(missing_ok=True)
        raise
    finally:
        fm_log.setLevel(level)
    for partial, target in zip(tmp, targets, strict=True):
        partial.replace(target)
    log.info("wrote %s (%d pages), %s (%d pages)", targets[0], wall_pages, targets[1], board_pages)
    return PrintResult(
        wallmaps=targets[0],
        boards=targets[1],
        communities=tuple(c.code for c in chosen),
        grids=tuple(grid_codes),
        wallmap_pages=wall_pages,
        board_pages=board_pages,
        font=font_path,
    )


def _metadata(lang: Lang, which: str) -> dict[str, Any]:
    """PDF metadata without dates, so the same plan prints to the same bytes."""
    title = t("print_board_title" if which == "boards" else "print_code_table", lang)
    return {"Title": title, "Creator": "gridplan", "Producer": "gridplan", "CreationDate": None}
