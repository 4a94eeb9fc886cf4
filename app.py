"""gridplan in the browser: ``streamlit run app.py``.

Thin on purpose: widgets become a configuration, the library does the work once (cached),
and the result is rendered. Planning is :func:`gridplan.plan`; uploads, locks and edits are
:mod:`gridplan.appsupport`; maps and charts are :mod:`gridplan.render`; every label is in
:mod:`gridplan.i18n`. Staffing, exports and the reform view use :mod:`gridplan.staffing`,
:mod:`gridplan.export` and :mod:`gridplan.reform` when they are installed and say so when not.

Intranet mode (Leaflet from ``gridplan/assets/`` instead of CDNs) is on unless the environment
sets ``GRIDPLAN_INTRANET=0``; it can be switched in the map settings.

State is per session (``st.session_state``): the chosen grid and the planner's edits (locks,
moves, community re-plans; undo drops the last), applied to the plan one at a time by
:func:`gridplan.appsupport.apply_edits` so each re-plans one community at most.
The bundled sample's plan is cached for everyone; plans of uploaded data are cached per
session (``scope="session"``), so one planner's data never reaches another session.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import folium
import streamlit as st
from streamlit_folium import st_folium

from gridplan import app_compare, render
from gridplan import appsupport as sup
from gridplan.config import rules_from_dict
from gridplan.diff import STATUS_COLOURS, diff_plans
from gridplan.errors import ValidationError
from gridplan.i18n import Lang, label_columns, t, value_label
from gridplan.io import parse_columns

SAMPLE = Path(__file__).resolve().parent / "data" / "singapore_queenstown.gpkg"
SAMPLE_LAYERS = ("units", "communities", "streets", "barriers")
UPLOAD_TYPES = ["gpkg", "geojson", "json", "zip", "csv", "txt", "xlsx", "xlsm", "parquet"]
MAP_HEIGHT = 620
#: above these counts, micro-grids, units and code labels are drawn for one community at a
#: time (the filtered one, else the selected grid's), so a city's map stays light
MAX_ALL_MICROGRIDS = 3000
MAX_ALL_UNITS = 3000
MAX_ALL_LABELS = 400
POST_COLUMNS = ("grid_head", "fulltime_worker", "parttime_workers", "dedicated_contact", "posts")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PARTY_COLUMNS = ("branch_id", "type", "members", "meets_min", "needs_committee")

staffing = sup.optional_module("staffing")
export = sup.optional_module("export")
reform = sup.optional_module("reform")

st.set_page_config(page_title="gridplan 社区网格规划", page_icon="🗺️", layout="wide")


# ---------------------------------------------------------------------------------------------
# cached library calls
# ---------------------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=1)
def sample_uploads() -> tuple[sup.Upload, ...]:
    data = SAMPLE.read_bytes()
    return tuple(sup.Upload(role, SAMPLE.name, data, layer=role) for role in SAMPLE_LAYERS)


def _plan(uploads, rules, columns, seed, source_crs, fix_invalid, text, extra=()):  # type: ignore[no-untyped-def]
    """Plan with a progress bar. The bar is created and cleared inside the cached function, so
    a cache hit replays nothing visible; updates are limited to 5 % steps to keep that replay
    short."""
    bar = st.progress(0.0, text=text)
    shown = [-1]

    def progress(done: int, total: int, message: str) -> None:
        step = int(20 * done / max(total, 1))
        if step != shown[0]:
            shown[0] = step
            bar.progress(min(step / 20, 1.0), text=f"{text} {message}")

    try:
        return sup.plan_from_uploads(
            uploads,
            rules=rules,
            columns=dict(columns),
            seed=seed,
            source_crs=source_crs,
            fix_invalid=fix_invalid,
            progress=progress,
            **dict(extra),
        )
    finally:
        bar.empty()


@st.cache_data(show_spinner=False, max_entries=16)
def plan_sample(uploads, rules, columns, seed, source_crs, fix_invalid, _text=""):  # type: ignore[no-untyped-def]
    """Plans of the bundled sample: the same for every session, so shared."""
    return _plan(uploads, rules, columns, seed, source_crs, fix_invalid, _text)


@st.cache_data(show_spinner=False, max_entries=8, scope="session")
def plan_uploaded(uploads, rules, columns, seed, source_crs, fix_invalid, _text="", extra=()):  # type: ignore[no-untyped-def]
    """Plans of uploaded data (with a saved plan's codes or a roster in ``extra``): cached for
    this session only."""
    return _plan(uploads, rules, columns, seed, source_crs, fix_invalid, _text, extra)


@st.cache_data(show_spinner=False, max_entries=16, scope="session")
def edited_plan(base_key: str, edits: tuple[sup.Edit, ...], _base: Any) -> tuple[Any, tuple]:
    """The plan after the planner's edits, one :func:`gridplan.appsupport.apply_edit` at a
    time on the plan after the edits before it (cached), so each edit re-plans at most one
    community and an undo is a cache hit. Returns the plan and the edits that no longer
    apply (after a rule change)."""
    if not edits:
        return _base, ()
    before, skipped = edited_plan(base_key, edits[:-1], _base)
    after, bad = sup.apply_edits(before, edits[-1:])
    return after, (*skipped, *bad)


@st.cache_data(show_spinner=False, max_entries=4, scope="session")
def compare_edits(plan_key: str, _old: Any, _new: Any) -> Any:
    return diff_plans(_old, _new)


@st.cache_data(show_spinner=False, max_entries=4, scope="session")
def compare_upload(plan_key: str, upload: sup.Upload, lang: Lang, _plan: Any) -> Any:
    return app_compare.diff_upload(upload, _plan, lang=lang)


@st.cache_data(show_spinner=False, max_entries=8, scope="session")
def display_layers(plan_key: str, gcj02: bool, _plan: Any) -> render.DisplayLayers:
    return render.display_layers(_plan, gcj02=gcj02)


@st.cache_data(show_spinner=False, max_entries=8, scope="session")
def staffing_plan(plan_key: str, rules: Any, current: sup.Upload | None, _plan: Any) -> Any:
    """Posts and party organisation of the plan; with a roster plan, the heads its household
    list names (``household_list``); with an uploaded table of the community workers each
    community has now, the gap to the ratio (``current_staff``)."""
    if not staffing:
        return None
    return staffing.staffing_plan(
        _plan,
        rules=rules,
        household_list=_plan.report.get("households"),
        current_staff=sup.read_upload_table(current) if current is not None else None,
    )


@st.cache_data(show_spinner=False, max_entries=16, scope="session")
def upload_layers(name: str, data: bytes) -> list[str]:
    return sup.upload_layers(name, data)


@st.cache_data(show_spinner=False, max_entries=16, scope="session")
def upload_columns(upload: sup.Upload) -> list[str]:
    return sup.upload_columns(upload)


@st.cache_data(show_spinner=False, max_entries=16, scope="session")
def upload_categories(upload: sup.Upload, columns: tuple[tuple[str, str], ...]) -> list[str]:
    return sup.upload_categories(upload, columns=dict(columns))


@st.cache_data(show_spinner=False, max_entries=4, scope="session")
def redivide(plan_key: str, lo: int, hi: int, target: int | None, seed: int, _plan: Any) -> Any:
    return reform.redivide(
        _plan.layers,
        communities=None,
        rules=reform.ReformRules(min_households=lo, max_households=hi, target_count=target),
        seed=seed,
    )


# ---------------------------------------------------------------------------------------------
# session state: selection, locks, undo
# ---------------------------------------------------------------------------------------------


def _edits(dataset: str) -> dict[str, Any]:
    """The edits of this session (:data:`gridplan.appsupport.Edit`, in order; undo drops the
    last), reset when the data set changes."""
    edits = st.session_state.get("edits")
    if edits is None or edits["dataset"] != dataset:
        edits = {"dataset": dataset, "ops": []}
        st.session_state["edits"] = edits
    return edits


def _add_edit(edit: sup.Edit, follow: str | None = None) -> None:
    """Record an edit; ``follow`` is a grid code selected once it is applied."""
    st.session_state["edits"]["ops"].append(edit)
    if follow is not None:
        st.session_state["grid"] = follow


def _apply_move(edit: sup.Edit, follow: str) -> None:
    """Apply a move and clear the move's choices: the moved units are in their new grid
    (selected), and the editor must not offer to move them back."""
    _add_edit(edit, follow)
    st.session_state["move_units"] = []
    for key in ("move_compound", "move_target"):
        st.session_state.pop(key, None)


def _search_picked(hits: Any) -> None:
    """Select the grid of the unit picked in the search results (its community follows)."""
    i = st.session_state.get("search_pick")
    if i is not None:
        st.session_state["grid"] = str(hits["grid_code"].iat[i])
        st.session_state["community"] = None


def _community_changed() -> None:
    """A new community filter selects that community's first grid."""
    st.session_state.pop("grid", None)


def _undo() -> None:
    ops = st.session_state["edits"]["ops"]
    if ops:
        ops.pop()


def _on_map_click(key: str) -> None:
    value = st.session_state.get(key) or {}
    st.session_state["clicked_tooltip"] = value.get("last_object_clicked_tooltip")


def _df(frame: Any, lang: Lang, columns: list[str] | None = None) -> Any:
    """A table for display (:func:`gridplan.appsupport.display_table`)."""
    return sup.display_table(frame, lang, columns=columns)


def _download(label: str, data: Any, *, file_name: str, mime: str, key: str) -> None:
    """A download button that does not re-run the app; ``data`` may be a function, called
    only when the planner clicks."""
    st.download_button(label, data=data, file_name=file_name, mime=mime, key=key, on_click="ignore")


def _table(frame: Any, lang: Lang, columns: list[str] | None = None, **kw: Any) -> None:
    """Show a table, or "(none)" in ``lang`` where Streamlit would print its English "empty"."""
    if len(frame) == 0:
        st.caption(t("no_rows", lang))
    else:
        st.dataframe(_df(frame, lang, columns), hide_index=True, width="stretch", **kw)


def _show_problems(exc: ValidationError, lang: Lang, key: str = "validation_failed") -> None:
    st.error(t(key, lang, n=len(exc.problems)))
    st.dataframe(
        label_columns(sup.problems_table(exc, lang), lang), hide_index=True, width="stretch"
    )


# ---------------------------------------------------------------------------------------------
# sidebar: language, data, rules, map settings
# ---------------------------------------------------------------------------------------------

#: every widget whose value outlives the widget: a language switch relabels widgets (a new
#: widget identity) and the upload widgets disappear with the sample, so their values are
#: written back into the session state on every run and are never reset.
DEFAULTS: dict[str, Any] = {
    "lang_en": False,
    "source": "sample",
    "columns": "",
    "source_crs": "wgs84",
    "coords_crs": "wgs84",
    "coords_epsg": "",
    "coords_x": None,
    "coords_y": None,
    "r_gmin": 300,
    "r_gmax": 500,
    "r_mmin": 30,
    "r_mmax": 50,
    "r_hhsize": 2.8,
    "r_ratio": 18.0,
    "r_seed": 0,
    "r_county": "000000",
    "r_cats": [],
    "r_homes": "residential",
    "r_fix_invalid": False,
    "basemap": render.BASEMAPS[0],
    "tk": "",
    "intranet": os.environ.get("GRIDPLAN_INTRANET", "1") != "0",
    "show_micro": False,
    "show_units": False,
    "show_labels": True,
    "rf_lo": 1000,
    "rf_hi": 3000,
    "rf_target": 0,
    "rf_run": False,
}


def _keep_state() -> None:
    state = st.session_state
    for key, value in DEFAULTS.items():
        state[key] = state[key] if key in state else value
    for key in [k for k in state if isinstance(k, str) and k.startswith("layer_")]:
        state[key] = state[key]


def _keep_upload(role: str) -> None:
    """Keep an uploaded file in the session when the planner adds or removes it, so switching
    to the sample and back (which unmounts the upload widgets) loses nothing."""
    f = st.session_state.get(f"up_{role}")
    kept = st.session_state.setdefault("kept_uploads", {})
    if f is None:
        kept.pop(role, None)
    else:
        kept[role] = (f.name, f.getvalue())


def parse_columns_safe(text: str) -> dict[str, str]:
    try:
        return parse_columns(text)
    except ValidationError:
        return {}


def _apply_columns(mapping: dict[str, str]) -> None:
    """Add detected column pairs (户数 = households) to the column-mapping box."""
    current = st.session_state.get("columns", "").rstrip()
    extra = sup.columns_text(mapping)
    st.session_state["columns"] = f"{current}\n{extra}".strip() if current else extra


def _previous_on(on: bool) -> None:
    """Plan from (or stop planning from) the compare tab's previous plan, at once."""
    st.session_state["cmp_previous_on"] = on
    st.session_state["run_now"] = True


def _drop_upload(role: str) -> None:
    st.session_state.setdefault("kept_uploads", {}).pop(role, None)


_keep_state()
lang: Lang = "en" if st.sidebar.toggle("English", key="lang_en") else "zh"


def T(key: str, **fmt: object) -> str:
    return t(key, lang, **fmt)


if lang == "zh":
    # Streamlit's own upload texts, which it offers no option for, in Chinese
    st.html(sup.streamlit_texts_css(lang, limit_mb=sup.MAX_UPLOAD_MB))

st.sidebar.header(T("data"))
source = st.sidebar.radio(
    T("data_source"),
    ["sample", "upload", "plan"],
    format_func=lambda s: T(f"source_{s}"),
    key="source",
)
uploads: tuple[sup.Upload, ...]
columns: dict[str, str] = {}
source_crs: str | None = None
upload_errors: list[ValidationError] = []
#: a coordinate choice that cannot be read stops before planning (never WGS84 instead)
coords_bad = False
extra: tuple[tuple[str, Any], ...] = ()
kept: dict[str, tuple[str, bytes]] = st.session_state.setdefault("kept_uploads", {})


def _kept_uploader(
    role: str, label: str, types: list[str], *, help: str | None = None, box: Any = st.sidebar
) -> sup.Upload | None:
    """An upload widget (in the sidebar, or ``box``) whose file outlives it (see
    :func:`_keep_upload`)."""
    f = box.file_uploader(
        label, type=types, key=f"up_{role}", help=help, on_change=_keep_upload, args=(role,)
    )
    if f is not None:
        kept[role] = (f.name, f.getvalue())
    elif role in kept:
        k1, k2 = box.columns([3, 1])
        k1.caption(T("upload_kept", name=kept[role][0]))
        k2.button(T("upload_remove"), key=f"drop_{role}", on_click=_drop_upload, args=(role,))
    return sup.Upload(role, *kept[role]) if role in kept else None


if source == "plan":
    saved = _kept_uploader("plan", T("saved_plan"), ["gpkg"])
    uploads = ()
    if saved is not None:
        try:
            uploads = sup.saved_plan_uploads(saved)
            extra = (("previous", saved),)
            st.sidebar.caption(T("saved_plan_note"))
        except ValidationError as exc:
            upload_errors.append(exc)
elif source == "sample":
    uploads = sample_uploads()
    st.sidebar.caption(T("sample_note"))
else:
    found: list[sup.Upload] = []
    for role in sup.ROLES:
        up = _kept_uploader(role, T(f"role_{role}"), UPLOAD_TYPES, help=T("upload_help"))
        if up is None:
            continue
        name, data = up.name, up.data
        try:
            sup.check_upload_size(name, data)
            layers = upload_layers(name, data)
        except ValidationError as exc:
            upload_errors.append(exc)
            continue
        layer = None
        if len(layers) > 1:
            if st.session_state.get(f"layer_{role}") not in layers:
                st.session_state[f"layer_{role}"] = role if role in layers else layers[0]
            layer = st.sidebar.selectbox(
                f"{T('layer_in_file')} ({name})",
                layers,
                key=f"layer_{role}",
                placeholder=T("choose_one"),
            )
        found.append(sup.Upload(role, name, data, layer=layer))
    uploads = tuple(found)
    roster_up = _kept_uploader("roster", T("role_roster"), ["xlsx", "xlsm", "csv"])
    if roster_up is not None:
        extra = (("roster", roster_up),)
    units_up = [u for u in found if u.role == "units"]
    if units_up:
        try:
            detected = sup.detect_columns(upload_columns(units_up[0]))
        except ValidationError:
            detected = {}
        missing = {
            k: v
            for k, v in detected.items()
            if k not in parse_columns_safe(st.session_state["columns"])
        }
        if missing:
            st.sidebar.caption(
                T("detected_columns", cols=sup.columns_text(missing).replace("\n", "；"))
            )
            st.sidebar.button(
                T("apply_detected"), key="apply_detected", on_click=_apply_columns, args=(missing,)
            )
    st.sidebar.download_button(
        T("download_template"),
        data=lambda: sup.data_template(lang=lang),
        file_name="gridplan_template.xlsx",
        mime=XLSX,
        key="dl_template",
        on_click="ignore",
    )
    mapping_text = st.sidebar.text_area(
        T("columns"), key="columns", help=T("columns_help"), placeholder="户数 = households"
    )
    try:
        columns = parse_columns(mapping_text)
    except ValidationError as exc:
        upload_errors.append(exc)
    source_crs = st.sidebar.selectbox(
        T("source_crs"),
        ["wgs84", "gcj02", "bd09"],
        format_func=lambda c: T(f"crs_{c}"),
        key="source_crs",
        placeholder=T("choose_one"),
    )
    if any(sup.is_table(u) for u in found):
        # CSV/XLSX coordinates: their system (WGS84, CGCS2000, a projection) and the units
        # table's coordinate columns (after the column mapping), passed as each file is read
        crs_choice = st.sidebar.selectbox(
            T("coords_crs"),
            ["wgs84", "cgcs2000", "projected"],
            format_func=lambda c: T(f"coords_crs_{c}"),
            key="coords_crs",
            help=T("coords_crs_help"),
            placeholder=T("choose_one"),
        )
        epsg = None
        if crs_choice == "projected":
            epsg = st.sidebar.text_input(
                T("coords_epsg"),
                key="coords_epsg",
                placeholder="EPSG:4547",
                help=T("coords_epsg_help"),
            )
        table_units = [u for u in found if u.role == "units" and sup.is_table(u)]
        x_col = y_col = None
        if table_units:
            try:
                names = [columns.get(c, c) for c in upload_columns(table_units[0])]
            except ValidationError:
                names = []
            for key in ("coords_x", "coords_y"):
                if st.session_state.get(key) not in [None, *names]:
                    st.session_state[key] = None
            x_col = st.sidebar.selectbox(
                T("coords_x"),
                [None, *names],
                format_func=lambda c: T("coords_auto") if c is None else c,
                key="coords_x",
            )
            y_col = st.sidebar.selectbox(
                T("coords_y"),
                [None, *names],
                format_func=lambda c: T("coords_auto") if c is None else c,
                key="coords_y",
            )
        coords = sup.Coordinates(
            crs={"wgs84": None, "cgcs2000": "EPSG:4490"}.get(crs_choice, (epsg or "").strip()),
            x=x_col,
            y=y_col,
        )
        try:
            sup.check_coordinates(coords, lang)
            if coords != sup.Coordinates():
                extra = (*extra, ("coords", coords))
        except ValidationError as exc:
            upload_errors.append(exc)
            coords_bad = True

if st.session_state.get("cmp_previous_on") and "compare" in kept and source != "plan":
    # re-planned from the previous plan uploaded on the compare tab (plan(previous=...))
    extra = (*extra, ("previous", sup.Upload("previous", *kept["compare"])))

dedicated = [u for u in uploads if u.role == "dedicated"]
try:
    categories = (
        upload_categories(dedicated[0], tuple(sorted(columns.items()))) if dedicated else []
    )
except ValidationError as exc:
    upload_errors.append(exc)
    categories = []
st.session_state["r_cats"] = [c for c in st.session_state["r_cats"] if c in categories]

with st.sidebar.form("rules"):
    st.subheader(T("rules"))
    c1, c2 = st.columns(2)
    gmin = c1.number_input(T("grid_min"), 1, 100_000, step=10, key="r_gmin")
    gmax = c2.number_input(T("grid_max"), 2, 100_000, step=10, key="r_gmax")
    mmin = c1.number_input(T("micro_min"), 1, 10_000, step=5, key="r_mmin")
    mmax = c2.number_input(T("micro_max"), 2, 10_000, step=5, key="r_mmax")
    hh_size = c1.number_input(T("household_size"), 0.5, 10.0, step=0.1, key="r_hhsize")
    ratio = c2.number_input(T("staffing_ratio"), 1.0, 200.0, step=1.0, key="r_ratio")
    seed = c1.number_input(T("seed"), 0, 2**31 - 1, key="r_seed")
    county = c2.text_input(T("county_code"), max_chars=6, key="r_county")
    cats = st.multiselect(
        T("dedicated_categories"),
        categories,
        format_func=lambda c: str(value_label("category", c, lang)),
        placeholder=T("choose_options"),
        key="r_cats",
        help=T("dedicated_categories_help"),
        disabled=not categories,
    )
    homes = st.selectbox(
        T("dedicated_residents"),
        ("residential", "dedicated"),
        format_func=lambda v: T(f"dedicated_residents_{v}"),
        key="r_homes",
        help=T("dedicated_residents_help"),
        placeholder=T("choose_one"),
    )
    fix_invalid = st.checkbox(T("fix_invalid"), key="r_fix_invalid", help=T("fix_invalid_help"))
    run_pressed = st.form_submit_button(T("run_plan"), type="primary", key="run")

with st.sidebar.expander(T("map_settings"), expanded=True):
    basemap = st.selectbox(
        T("basemap"),
        render.BASEMAPS,
        format_func=lambda b: T(f"basemap_{b}"),
        key="basemap",
        placeholder=T("choose_one"),
    )
    tianditu_key = (
        st.text_input(T("tianditu_key"), type="password", key="tk")
        if basemap == "tianditu"
        else None
    )
    intranet = st.toggle(
        T("intranet"),
        key="intranet",
        help=T("intranet_help"),
    )
    show_micro = st.toggle(T("show_microgrids"), key="show_micro")
    show_units = st.toggle(T("show_units"), key="show_units")
    show_labels = st.toggle(T("show_labels"), key="show_labels")


# ---------------------------------------------------------------------------------------------
# plan
# ---------------------------------------------------------------------------------------------

st.title(T("app_title"))
# the subtitle says the rules in force (the sidebar's, as last run), not the defaults
st.caption(
    T(
        "app_caption_rules",
        glo=int(st.session_state["r_gmin"]),
        ghi=int(st.session_state["r_gmax"]),
        mlo=int(st.session_state["r_mmin"]),
        mhi=int(st.session_state["r_mmax"]),
    )
)

for exc in upload_errors:
    _show_problems(exc, lang)
if coords_bad:
    st.stop()
if not any(u.role == "units" for u in uploads):
    st.info(T("need_units"))
    st.stop()

try:
    rules = rules_from_dict(
        {
            "grid": {"min_households": int(gmin), "max_households": int(gmax)},
            "microgrid": {"min_households": int(mmin), "max_households": int(mmax)},
            "codes": {"county_code": county},
            "household_size": float(hh_size),
            "dedicated_categories": list(cats),
            "dedicated_residents": homes,
        }
    )
    staff_rules = (
        staffing.StaffingRules(
            community_workers_per_10k=float(ratio), household_size=float(hh_size)
        )
        if staffing
        else None
    )
except ValidationError as exc:
    _show_problems(exc, lang, "rules_invalid")
    st.stop()

dataset = sup.fingerprint(uploads, sorted(columns.items()), source_crs, *(u for _, u in extra))
# uploaded data are planned when the planner presses "run", not on every upload or mapping
# change (each layer would re-plan the whole area); the sample opens planned
ran: dict[str, str] = st.session_state.setdefault(
    "ran", {"sample": sup.fingerprint(sample_uploads(), [], None)}
)
if run_pressed or st.session_state.pop("run_now", False):
    ran[source] = dataset
if ran.get(source) != dataset:
    st.info(T("press_run", run=T("run_plan")))
    st.stop()
edits = _edits(dataset)
run = plan_sample if source == "sample" and not extra else plan_uploaded
try:
    plan = run(
        uploads,
        rules,
        tuple(sorted(columns.items())),
        int(seed),
        source_crs,
        bool(fix_invalid),
        _text=T("planning"),
        **({"extra": extra} if extra else {}),
    )
except ValidationError as exc:
    _show_problems(exc, lang)
    st.stop()
base_key = sup.fingerprint(dataset, rules, int(seed), bool(fix_invalid))
ops = tuple(edits["ops"])
# the planner's edits on the plan: each re-plans one community at most (gridplan.replan), so
# every other grid keeps its code and shape, and a locked grid is never re-planned
base_plan = plan
with st.spinner(T("replanning")):
    plan, skipped_edits = edited_plan(base_key, ops, plan)
plan_key = sup.fingerprint(base_key, ops)
if skipped_edits:
    st.warning(
        T(
            "edits_skipped",
            n=len(skipped_edits),
            edits="；".join(sup.edit_label(e, lang) for e in skipped_edits),
        )
    )

codes = plan.grids["grid_code"].astype(str).tolist()
grid_community = dict(zip(codes, plan.grids["community_id"].astype(str), strict=True))
comm_ids = sorted({str(c) for c in plan.grids["community_id"].dropna()})
clicked = render.clicked_grid(st.session_state.pop("clicked_tooltip", None), plan)
if clicked is not None:
    st.session_state["grid"] = clicked
if st.session_state.get("community") not in [None, *comm_ids]:
    st.session_state["community"] = None
# the grid list holds the filtered community's grids; a grid picked elsewhere (a click, a
# search, a unit followed after a move) brings its community into the filter
chosen = st.session_state.get("grid")
if chosen in codes and st.session_state.get("community") not in (None, grid_community[chosen]):
    st.session_state["community"] = grid_community[chosen]
community_now = st.session_state.get("community")
listed = [c for c in codes if community_now is None or grid_community[c] == community_now]
if st.session_state.get("grid") not in listed:
    st.session_state["grid"] = listed[0] if listed else None
selected: str | None = st.session_state.get("grid")
staff = staff_error = None
if staffing:
    current_up = (
        sup.Upload("current_staff", *kept["current_staff"]) if "current_staff" in kept else None
    )
    try:
        staff = staffing_plan(plan_key, staff_rules, current_up, plan)
    except ValidationError as exc:
        # the uploaded staff table is refused; the posts are shown without it
        staff_error = exc
        staff = staffing_plan(plan_key, staff_rules, None, plan)
grid_rows = plan.grids.set_index(plan.grids["grid_code"].astype(str))

totals = plan.report["totals"].iloc[0]
m1, m2, m3, m4 = st.columns(4)
m1.metric(T("grid_count"), int(totals["grids"]))
m2.metric(T("in_band_share"), sup.share_text(totals["in_band_share"]))
m3.metric(T("microgrid_count"), int(totals["microgrids"]))
m4.metric(T("households_total"), f"{int(totals['households']):,}")

tab_names = ["map", "report", "staffing", "edit", "compare", "downloads"]
tab_names += ["reform"] if reform else []
tabs = dict(zip(tab_names, st.tabs([T(n) for n in tab_names]), strict=True))


# ---------------------------------------------------------------------------------------------
# map and grid details
# ---------------------------------------------------------------------------------------------

with tabs["map"]:
    ded_rows = plan.grids[(plan.grids["kind"] != "residential") & (plan.grids["households"] > 0)]
    if len(ded_rows):
        # households in dedicated grids are outside the band and have no micro-grids: the
        # planner must see them where they look, not only in the report
        st.warning(
            T(
                "dedicated_hold",
                n=len(ded_rows),
                hh=f"{int(ded_rows['households'].sum()):,}",
                share=sup.share_text(
                    ded_rows["households"].sum() / max(plan.grids["households"].sum(), 1)
                ),
            )
        )
    left, right = st.columns([3, 2])
    with right:
        st.selectbox(
            T("community_filter"),
            [None, *comm_ids],
            format_func=lambda c: T("all_communities") if c is None else c,
            key="community",
            on_change=_community_changed,
            placeholder=T("choose_one"),
        )
        community = st.session_state.get("community")
        query = st.text_input(T("search"), key="search", placeholder=T("search_hint"))
        if query:
            hits = sup.search(plan, query)
            if hits.empty:
                st.caption(T("search_none"))
            else:
                st.selectbox(
                    T("search_results", n=len(hits)),
                    list(range(len(hits))),
                    format_func=lambda i: T(
                        "search_option", name=hits["name"].iat[i], code=hits["grid_code"].iat[i]
                    ),
                    key="search_pick",
                    index=None,
                    placeholder=T("choose_one"),
                    on_change=_search_picked,
                    args=(hits,),
                )
        st.selectbox(
            T("select_grid"),
            listed,
            key="grid",
            help=T("click_hint"),
            format_func=lambda c: sup.grid_option(grid_rows.loc[c], lang),
            placeholder=T("choose_one"),
        )
    effective_basemap = basemap
    if basemap == "tianditu" and not tianditu_key:
        st.warning(T("tianditu_needs_key"))
        effective_basemap = "none"
    if effective_basemap == "gaode":
        st.caption(T("gaode_note"))
    gaode = effective_basemap == "gaode"
    with left:
        disp = display_layers(plan_key, gaode, plan)
        # the base map (grids, barriers, boundaries) changes only with the plan, the language
        # and Leaflet's source; tiles, micro-grids, units, labels and the selection are drawn
        # on it without reloading, so toggles and basemap changes keep the zoom
        fmap = render.plan_map(
            plan,
            display=disp,
            basemap="gaode" if gaode else "none",
            intranet=intranet,
            lang=lang,
        )
        fmap.get_root().header.add_child(folium.Element(f"<style>{render.LABEL_CSS}</style>"))
        scope = [community] if community is not None else comm_ids
        near = [grid_community[selected]] if selected is not None else []
        micro_scope = scope if len(disp.microgrids) <= MAX_ALL_MICROGRIDS or community else near
        unit_scope = scope if len(disp.units) <= MAX_ALL_UNITS or community else near
        label_scope = scope if len(disp.grids) <= MAX_ALL_LABELS or community else near
        overlays = [
            *(
                []
                if gaode
                else [render.basemap_layer(effective_basemap, tianditu_key=tianditu_key, lang=lang)]
            ),
            *render.overlay_layers(
                disp,
                lang=lang,
                selected=selected,
                microgrids=micro_scope if show_micro else None,
                units=unit_scope if show_units else None,
                labels=label_scope if show_labels else None,
            ),
        ]
        centre, zoom = render.view(disp, community=community, grid=selected)
        st_folium(
            fmap,
            # a key per language: the layer names and tooltips are redrawn in the new language
            key=f"map_{lang}",
            height=MAP_HEIGHT,
            use_container_width=True,
            returned_objects=["last_object_clicked_tooltip"],
            feature_group_to_add=overlays,
            center=centre,
            zoom=zoom,
            on_change=functools.partial(_on_map_click, f"map_{lang}"),
        )
        if (show_micro and micro_scope is near) or (show_units and unit_scope is near):
            st.caption(T("scope_note"))
        st.html(render.legend_html(disp, lang=lang))
    with right:
        if selected is None:
            st.info(T("no_grid_selected"))
        else:
            g = grid_rows.loc[selected]
            st.subheader(f"{T('grid_details')} · {selected}")
            d1, d2, d3 = st.columns(3)
            d1.metric(T("households"), int(g["households"]))
            d2.metric(T("residents"), f"{float(g['population']):,.0f}")
            d3.metric(T("microgrids"), int(g["n_microgrids"]))
            # a dedicated grid is exempt from the band, never "in band"
            if g["kind"] != "residential":
                st.warning(
                    T(
                        "dedicated_exempt",
                        hh=f"{int(g['households']):,}",
                        category=value_label("category", str(g.get("category")), lang),
                    )
                )
            st.caption(
                f"{T('community')}: {g['community_id']} · {T('band_status')}: "
                f"{value_label('band_status', str(g['band_status']), lang)} · {T(str(g['kind']))}"
            )
            homes_here = plan.report["dedicated_residents"]
            homes_here = homes_here[homes_here["grid_code"] == selected]
            if len(homes_here):
                st.markdown(f"**{T('dedicated_homes')}**")
                _table(
                    homes_here,
                    lang,
                    ["name", "households", "n_units", "planned_as", "grid_codes", "served_by"],
                )
            mg = plan.report["microgrids"]
            st.markdown(f"**{T('microgrid_list')}**")
            _table(
                mg[mg["grid_code"] == selected],
                lang,
                ["microgrid_code", "households", "in_band"],
                height=180,
            )
            if staff is not None:
                posts = staff.grids[staff.grids["grid_code"].astype(str) == selected]
                st.markdown(f"**{T('staffing_posts')}**")
                _table(posts, lang, [*POST_COLUMNS])
                party = staff.party
                if "grid_codes" in party.columns:
                    mine = party[
                        party["grid_codes"].astype(str).str.contains(selected, regex=False)
                    ]
                    st.markdown(f"**{T('party_branch')}**")
                    _table(mine, lang, [*PARTY_COLUMNS])
            # rendered in the app's language, fixes naming the sidebar's widgets
            diags = plan.diagnostics[plan.diagnostics["grid_code"].astype(str) == selected]
            st.markdown(f"**{T('diagnostics')}**")
            if diags.empty:
                st.caption(T("no_diagnostics"))
            else:
                st.dataframe(
                    sup.diagnostics_view(diags, lang, columns=["level", "code", "message", "fix"]),
                    hide_index=True,
                    width="stretch",
                    key="grid_diagnostics",
                )


# ---------------------------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------------------------

with tabs["report"]:
    st.subheader(T("summary"))
    _table(plan.report["totals"], lang)
    st.subheader(T("histogram"))
    st.altair_chart(render.households_histogram(plan, lang=lang), width="stretch")
    st.caption(
        T("histogram_caption", lo=plan.rules.grid.min_households, hi=plan.rules.grid.max_households)
    )
    st.subheader(T("by_community"))
    _table(plan.report["communities"], lang)
    st.subheader(T("by_street"))
    _table(plan.report["streets"], lang)
    with st.expander(T("grid_table")):
        _table(plan.report["grids"], lang)
    if len(plan.report["dedicated_residents"]):
        with st.expander(T("dedicated_residents")):
            _table(plan.report["dedicated_residents"], lang)
    with st.expander(T("microgrid_table")):
        _table(plan.report["microgrids"], lang)
    with st.expander(f"{T('diagnostics')} ({len(plan.diagnostics)})"):
        st.dataframe(
            sup.diagnostics_view(plan.diagnostics, lang),
            hide_index=True,
            width="stretch",
            key="plan_diagnostics",
        )


# ---------------------------------------------------------------------------------------------
# staffing and party organisation
# ---------------------------------------------------------------------------------------------

with tabs["staffing"]:
    if staff is None:
        st.info(T("staffing_missing"))
    else:
        _kept_uploader(
            "current_staff",
            T("current_staff_upload"),
            ["csv", "txt", "xlsx", "xlsm"],
            help=T("current_staff_help"),
            box=st,
        )
        if staff_error is not None:
            st.error(T("current_staff_failed", widget=T("current_staff_upload")))
            st.dataframe(
                label_columns(sup.problems_table(staff_error, lang), lang),
                hide_index=True,
                width="stretch",
            )
        if "households" in plan.report:
            st.caption(T("staffing_heads_note"))
        _download(
            T("download_staffing"),
            lambda: sup.staffing_xlsx(staff, lang=lang),
            file_name="staffing.xlsx",
            mime=XLSX,
            key="dl_staffing_tab",
        )
        for name, frame in staff.tables(language=lang).items():
            if frame.empty:
                continue
            st.subheader(name)
            _table(frame, lang)


# ---------------------------------------------------------------------------------------------
# manual editing: lock, move, undo
# ---------------------------------------------------------------------------------------------

with tabs["edit"]:
    st.caption(T("edit_intro"))
    locked_rows = plan.grids[plan.grids["locked"].astype(bool)]
    if selected is not None:
        is_locked = bool(grid_rows.loc[selected, "locked"])
        st.subheader(f"{T('grid')} {selected}" + (" 🔒" if is_locked else ""))
        st.caption(T("edit_pick_hint"))
        e1, e2 = st.columns(2)
        # a dedicated grid follows its area: it is not locked
        if grid_rows.loc[selected, "kind"] == "residential":
            action = "unlock" if is_locked else "lock"
            e1.button(
                T(f"{action}_grid"), key=action, on_click=_add_edit, args=((action, selected),)
            )
        here = grid_community[selected]
        if here not in ("", "None"):
            e2.button(
                T("replan_community", community=here),
                key="replan_community",
                help=T("replan_community_help"),
                on_click=_add_edit,
                args=(("replan", here), selected),
            )
        targets = sup.movable_targets(plan, selected)
        # the grid and its neighbours on a map of their own, with their units
        near = [selected, *targets]
        sub = render.focus_layers(disp, near)
        emap = render.plan_map(
            plan, display=sub, basemap="gaode" if gaode else "none", intranet=intranet, lang=lang
        )
        st_folium(
            emap,
            key=f"edit_map_{lang}",
            height=420,
            use_container_width=True,
            returned_objects=[],
            feature_group_to_add=[
                *(
                    []
                    if gaode
                    else [
                        render.basemap_layer(
                            effective_basemap, tianditu_key=tianditu_key, lang=lang
                        )
                    ]
                ),
                *render.overlay_layers(
                    sub,
                    lang=lang,
                    selected=selected,
                    units=sorted({grid_community[c] for c in near}),
                    labels=sorted({grid_community[c] for c in near}),
                ),
            ],
        )
        st.markdown(f"**{T('move_units')}**")
        # units by name or address; a unit cut across grids counts only its part here
        in_grid = sup.grid_units(plan, selected)
        labels = {
            r.unit_id: T(
                "unit_option_part" if r.split else "unit_option",
                name=r.name,
                hh=r.households,
                total=r.unit_households,
            )
            for r in in_grid.itertuples()
        }
        moving = st.multiselect(
            T("units_to_move"),
            list(labels),
            format_func=labels.get,
            key="move_units",
            placeholder=T("choose_options"),
        )
        compounds = sorted({str(c) for c in in_grid["compound_id"].dropna()})
        if compounds:
            whole = st.selectbox(
                T("compound_to_move"),
                [None, *compounds],
                key="move_compound",
                format_func=lambda c: T("no_compound") if c is None else c,
                placeholder=T("choose_one"),
            )
            if whole is not None:
                moving = sorted(
                    set(moving)
                    | set(in_grid.loc[in_grid["compound_id"].astype(str) == whole, "unit_id"])
                )
        if not targets:
            st.caption(T("no_neighbours"))
        elif moving:
            target = st.selectbox(
                T("target_grid"),
                targets,
                key="move_target",
                format_func=lambda c: sup.grid_option(grid_rows.loc[c], lang),
                placeholder=T("choose_one"),
            )
            preview = sup.move_preview(plan, moving, target)
            st.markdown(f"**{T('preview')}**")
            _table(preview.table, lang)
            if preview.ok:
                st.success(T("move_ok"))
            for key, fmt in preview.warnings:
                st.warning(T(key, **fmt))
            st.button(
                T("apply_move"),
                key="apply_move",
                type="primary",
                on_click=_apply_move,
                args=(("move", tuple(moving), target), target),
            )
    st.divider()
    st.markdown(f"**{T('locked_grids', n=len(locked_rows))}**")
    if len(locked_rows):
        _table(locked_rows, lang, ["grid_code", "community_id", "households", "in_band"])
    b1, b2 = st.columns(2)
    b1.button(
        T("undo"),
        key="undo",
        on_click=_undo,
        disabled=not ops,
        help=None if ops else T("nothing_to_undo"),
    )
    b2.button(
        T("unlock_all"),
        key="unlock_all",
        on_click=_add_edit,
        args=(("unlock_all",),),
        disabled=not len(locked_rows),
    )
    if ops:
        with st.expander(T("edit_list", n=len(ops))):
            for i, op in enumerate(ops, 1):
                st.markdown(f"{i}. {sup.edit_label(op, lang)}")


# ---------------------------------------------------------------------------------------------
# compare with a previous plan, or with the plan before the edits
# ---------------------------------------------------------------------------------------------

with tabs["compare"]:
    st.caption(T("compare_intro"))
    against = st.radio(
        T("compare_source"),
        ["upload", "edits"],
        format_func=lambda c: T(f"compare_source_{c}"),
        key="cmp_source",
        horizontal=True,
    )
    diff = None
    if against == "edits":
        if ops:
            diff = compare_edits(plan_key, base_plan, plan)
        else:
            st.info(T("compare_no_edits"))
    else:
        previous_up = _kept_uploader(
            "compare", T("compare_upload"), ["gpkg"], help=T("compare_upload_help"), box=st
        )
        if previous_up is None:
            st.info(T("compare_need_upload", widget=T("compare_upload")))
        else:
            try:
                diff = compare_upload(plan_key, previous_up, lang, plan)
            except ValidationError as exc:
                for problem in exc.problems:
                    st.error(problem.message)
            if source != "plan":
                on = bool(st.session_state.get("cmp_previous_on"))
                if on:
                    st.caption(T("compare_using", name=previous_up.name))
                st.button(
                    T("compare_replan_off" if on else "compare_replan"),
                    key="cmp_replan",
                    help=T("compare_replan_help"),
                    on_click=_previous_on,
                    args=(not on,),
                    type="secondary" if on else "primary",
                )
    if diff is not None:
        shown = app_compare.diff_tables(diff, lang)
        st.subheader(T("compare_summary"))
        _table(diff.summary, lang)
        st.subheader(T("compare_map"))
        st_folium(
            render.diff_map(
                diff,
                colours=STATUS_COLOURS,
                basemap=effective_basemap,
                tianditu_key=tianditu_key,
                intranet=intranet,
                lang=lang,
            ),
            key=f"compare_map_{lang}",
            height=MAP_HEIGHT,
            use_container_width=True,
            returned_objects=[],
        )
        st.html(app_compare.legend_html(lang))
        st.subheader(T("compare_grids"))
        changed = diff.grids[diff.grids["change"] != "kept"].drop(columns=["in_old", "in_new"])
        _table(changed, lang)
        st.subheader(T("compare_moves"))
        _table(diff.moves[diff.moves["old_code"] != diff.moves["new_code"]], lang)
        with st.expander(T("compare_matrix")):
            st.dataframe(shown["matrix"], hide_index=True, width="stretch", key="cmp_matrix")
        _download(
            T("compare_download"),
            lambda: app_compare.diff_xlsx(diff, lang=lang),
            file_name="gridplan_diff.xlsx",
            mime=XLSX,
            key="dl_compare",
        )


# ---------------------------------------------------------------------------------------------
# downloads
# ---------------------------------------------------------------------------------------------

with tabs["downloads"]:
    if export is None:
        st.info(T("export_missing", what="GeoPackage / GeoJSON / CSV"))
    else:
        downloads = [
            ("download_gpkg", "gpkg", "gridplan.gpkg", "application/geopackage+sqlite3"),
            ("download_geojson", "geojson", "grids.geojson", "application/geo+json"),
            (
                "layer_microgrids",
                "microgrids_geojson",
                "microgrids.geojson",
                "application/geo+json",
            ),
            ("download_equivalency", "equivalency", "equivalency.csv", "text/csv"),
            ("download_report", "report_xlsx", "report.xlsx", XLSX),
        ]
        for label, kind, file_name, mime in downloads:
            _download(
                T(label) if label != "layer_microgrids" else f"GeoJSON {T(label)}",
                lambda kind=kind: sup.export_bytes(plan, kind, lang=lang),
                file_name=file_name,
                mime=mime,
                key=f"dl_{kind}",
            )
        ZIP = "application/zip"
        _download(
            T("download_shapefile"),
            lambda: sup.shapefile_zip(plan, lang=lang),
            file_name="gridplan_shp_gbk.zip",
            mime=ZIP,
            key="dl_shp",
        )
        _download(
            T("download_kml"),
            lambda: sup.kml_bytes(plan, lang=lang),
            file_name="grids.kml",
            mime="application/vnd.google-earth.kml+xml",
            key="dl_kml",
        )
        st.subheader(T("per_community"))
        dl_comm = st.selectbox(
            T("community_filter"), comm_ids, key="dl_community", placeholder=T("choose_one")
        )
        if dl_comm is not None:
            _download(
                T("download_community", community=dl_comm),
                lambda: sup.community_zip(plan, dl_comm, lang=lang),
                file_name=f"community_{dl_comm}.zip",
                mime=ZIP,
                key="dl_comm_zip",
            )
        st.subheader(T("printing"))
        st.caption(T("printing_note"))
        if st.button(T("print_make"), key="print_make"):
            try:
                with st.spinner(T("print_wait")):
                    st.session_state["printed"] = (
                        plan_key,
                        sup.print_zip(plan, staffing=staff, lang=lang),
                    )
            except (ValidationError, ValueError) as exc:
                st.error(T("print_failed", err=exc))
        printed = st.session_state.get("printed")
        if printed is not None and printed[0] == plan_key:
            _download(
                T("print_download"),
                printed[1],
                file_name="gridplan_print.zip",
                mime=ZIP,
                key="dl_print",
            )
    if "households" in plan.report:
        _download(
            T("download_households"),
            lambda: sup.households_zip(plan, lang=lang),
            file_name="households.zip",
            mime="application/zip",
            key="dl_households",
        )
    if staff is None:
        st.info(T("staffing_missing"))
    else:
        _download(
            T("download_staffing"),
            lambda: sup.staffing_xlsx(staff, lang=lang),
            file_name="staffing.xlsx",
            mime=XLSX,
            key="dl_staffing",
        )


# ---------------------------------------------------------------------------------------------
# reform: old vs new community boundaries
# ---------------------------------------------------------------------------------------------

if reform is not None:
    with tabs["reform"]:
        st.caption(T("reform_intro"))
        if plan.layers.communities is None:
            st.info(T("role_communities"))
        else:
            r1, r2 = st.columns(2)
            lo = r1.number_input(T("community_min"), 1, 1_000_000, step=100, key="rf_lo")
            hi = r2.number_input(T("community_max"), 2, 1_000_000, step=100, key="rf_hi")
            target = r1.number_input(
                T("community_target"),
                0,
                100_000,
                key="rf_target",
                help=T("community_target_help"),
            )
            if st.toggle(T("reform_run"), key="rf_run"):
                try:
                    result = redivide(
                        plan_key, int(lo), int(hi), int(target) or None, int(seed), plan
                    )
                except (ValidationError, ValueError) as exc:
                    st.error(T("reform_failed", err=exc))
                else:
                    rmap = render.reform_map(
                        plan.layers.communities,
                        result.communities,
                        basemap=effective_basemap,
                        tianditu_key=tianditu_key,
                        intranet=intranet,
                        lang=lang,
                    )
                    st_folium(
                        rmap,
                        key=f"reform_map_{lang}",
                        height=MAP_HEIGHT,
                        use_container_width=True,
                        returned_objects=[],
                    )
                    _download(
                        T("download_reform_xlsx"),
                        lambda: sup.reform_xlsx(result, lang=lang),
                        file_name="reform.xlsx",
                        mime=XLSX,
                        key="dl_reform_xlsx",
                    )
                    _download(
                        T("download_redivided"),
                        lambda: sup.communities_gpkg(result.communities),
                        file_name="communities_redivided.gpkg",
                        mime="application/geopackage+sqlite3",
                        key="dl_redivided",
                    )
                    counts = result.report.get("counts")
                    if counts is not None:
                        st.subheader(T("reform_counts"))
                        _table(counts, lang)
                    st.dataframe(
                        _df(
                            result.communities.drop(columns="geometry"),
                            lang,
                            ["community_code", "previous_code", "households", "in_bounds"],
                        ),
                        hide_index=True,
                        width="stretch",
                    )
                    if len(result.diagnostics):
                        st.markdown(f"**{T('diagnostics')}**")
                        st.dataframe(
                            sup.diagnostics_view(result.diagnostics, lang),
                            hide_index=True,
                            width="stretch",
                            key="reform_diagnostics",
                        )
