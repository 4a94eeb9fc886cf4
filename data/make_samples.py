"""Rebuild the bundled sample GeoPackages from the shared real datasets.

Run from the repository root (the shared data live next to it in ``../shared/data/``)::

    .venv/bin/python data/make_samples.py [SOURCE_DIR]

Writes ``data/singapore_queenstown.gpkg``, ``data/taiyuan.gpkg`` and ``data/camden_sample.gpkg``
and prints the feature counts and household totals quoted in ``data/README.md``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry import box

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / ".." / "shared" / "data"

# Taiyuan extent: 迎泽/小店 around 山西大学 and 坞城路 up to the 汾河 (Fen River) bank.
TAIYUAN_BBOX = (112.52, 37.785, 112.60, 37.845)
CAMDEN_MSOAS = ("E02000166", "E02000167", "E02000168")
SG_PLANNING_AREA = "QUEENSTOWN"

DEDICATED_CATEGORY = {
    "office_commercial_building": "business",
    "landuse_commercial": "business",
    "landuse_retail": "business",
    "retail_mall_market": "market",
    "landuse_industrial": "industrial",
    "industrial_building": "industrial",
    "institution_school": "school",
    "institution_university": "school",
    "institution_college": "school",
    "institution_kindergarten": "school",
    "institution_hospital": "hospital",
    "park": "park",
    "hotel": "hotel",
}


def _write(path: Path, layers: dict[str, gpd.GeoDataFrame]) -> None:
    if path.exists():
        path.unlink()
    for name, gdf in layers.items():
        pyogrio.write_dataframe(gdf.reset_index(drop=True), path, layer=name, driver="GPKG")
        hh = f", {int(gdf['households'].sum()):,} households" if "households" in gdf else ""
        print(f"{path.name}:{name}: {len(gdf)} features{hh}")


def _clip_lines(lines: gpd.GeoDataFrame, area: object) -> gpd.GeoDataFrame:
    clipped = gpd.clip(lines, area)
    clipped = clipped[
        ~clipped.geometry.is_empty & clipped.geom_type.isin(["LineString", "MultiLineString"])
    ]
    return clipped


def singapore(src: Path, out: Path) -> None:
    blocks = gpd.read_file(src / "singapore_hdb_buildings.gpkg", layer="buildings")
    subzones = gpd.read_file(src / "singapore_boundaries.gpkg", layer="subzones")
    areas = gpd.read_file(src / "singapore_boundaries.gpkg", layer="planning_areas")
    roads = gpd.read_file(src / "singapore_boundaries.gpkg", layer="barriers")

    area = areas[areas["PLN_AREA_N"] == SG_PLANNING_AREA]
    area_code = str(area["PLN_AREA_C"].iloc[0])
    b = blocks[blocks["planning_area"] == SG_PLANNING_AREA].sort_values("postal")
    units = gpd.GeoDataFrame(
        {
            "unit_id": b["postal"].astype(str),
            "households": b["households"].astype("int64"),
            "floors": b["max_floor_lvl"].astype(float),
            "community_id": b["subzone_code"].astype(str),
            "street_id": area_code,
            "blk_no": b["blk_no"],
            "street": b["street"],
            "year_completed": b["year_completed"],
            "postal": b["postal"],
            "max_floor_lvl": b["max_floor_lvl"],
            "subzone": b["subzone"],
            "commercial": b["commercial"],
        },
        geometry=b.geometry,
        crs=blocks.crs,
    )
    sz = subzones[subzones["PLN_AREA_N"] == SG_PLANNING_AREA].sort_values("SUBZONE_C")
    communities = gpd.GeoDataFrame(
        {
            "community_id": sz["SUBZONE_C"],
            "name": sz["SUBZONE_N"],
            "street_id": sz["PLN_AREA_C"],
            "SUBZONE_C": sz["SUBZONE_C"],
            "SUBZONE_N": sz["SUBZONE_N"],
            "hdb_households": sz["hdb_households"],
        },
        geometry=sz.geometry,
        crs=subzones.crs,
    )
    streets = gpd.GeoDataFrame(
        {
            "street_id": area["PLN_AREA_C"],
            "name": area["PLN_AREA_N"],
            "PLN_AREA_C": area["PLN_AREA_C"],
            "PLN_AREA_N": area["PLN_AREA_N"],
        },
        geometry=area.geometry,
        crs=areas.crs,
    )
    # osmnx stores two-way roads once per direction; keep one copy of each segment
    key = roads.apply(lambda r: tuple(sorted((int(r["u"]), int(r["v"])))), axis=1)
    roads = roads.loc[~key.duplicated()]
    lines = _clip_lines(roads, area.geometry.iloc[0])
    major = ("motorway", "trunk", "primary")
    hw = lines["highway"].astype(str).str.replace("_link", "", regex=False)
    cls = pd.Series("secondary_road", index=lines.index).where(~hw.isin(major), "major_road")
    barriers = gpd.GeoDataFrame(
        {
            "barrier_id": "osm_" + lines["u"].astype(str) + "_" + lines["v"].astype(str),
            "name": lines["name"],
            "barrier_class": cls,
            "highway": lines["highway"],
        },
        geometry=lines.geometry,
        crs=roads.crs,
    ).sort_values("barrier_id")
    _write(
        out / "singapore_queenstown.gpkg",
        {"units": units, "communities": communities, "streets": streets, "barriers": barriers},
    )


def taiyuan(src: Path, out: Path) -> None:
    path = src / "taiyuan_osm.gpkg"
    bbox = box(*TAIYUAN_BBOX)
    buildings = gpd.read_file(path, layer="buildings")
    areas = gpd.read_file(path, layer="residential_areas")
    special = gpd.read_file(path, layer="business_special_areas")
    lines = gpd.read_file(path, layer="lines")

    inside = buildings[buildings.representative_point().within(bbox)].sort_values("osm_id")

    def units_from(b: gpd.GeoDataFrame, column: str) -> gpd.GeoDataFrame:
        hh = b[column].round().astype("int64")
        keep = hh > 0
        b = b.loc[keep]
        return gpd.GeoDataFrame(
            {
                "unit_id": b["osm_id"].astype(str),
                "households": hh[keep],
                "floors": b["levels_used"].astype(float),
                "households_estimated": True,
                "name": b["name"],
                "building": b["building"],
                "levels": b["levels"],
                "levels_defaulted": b["levels_defaulted"],
                "footprint_area_m2": b["footprint_area_m2"],
                "residential_basis": b["residential_basis"],
                "is_residential": b["is_residential"],
                column: b[column],
            },
            geometry=b.geometry,
            crs=buildings.crs,
        )

    units = units_from(inside[inside["is_residential"]], "households_est")
    stress = units_from(inside, "hh_est_if_residential")
    # hh_est_if_residential uses 6 levels where OSM has none, for every building
    stress["floors"] = stress["levels"].fillna(6).astype(float)

    ra = areas[areas.representative_point().within(bbox)].sort_values("res_area_id")
    compounds = gpd.GeoDataFrame(
        {
            "compound_id": ra["res_area_id"].astype(str),
            "name": ra["name"],
            # assumption: a named 小区 in OSM is treated as a gated compound (see README)
            "gated": ra["name"].notna(),
            "osm_id": ra["osm_id"],
            "name_en": ra["name_en"],
            "area_m2": ra["area_m2"],
        },
        geometry=ra.geometry,
        crs=areas.crs,
    )

    sp = special[special.representative_point().within(bbox)].sort_values("osm_id")
    dedicated = gpd.GeoDataFrame(
        {
            "dedicated_id": sp["osm_type"].astype(str) + "/" + sp["osm_id"].astype(str),
            "name": sp["name"],
            "category": sp["category"].map(DEDICATED_CATEGORY).fillna("other"),
            "osm_category": sp["category"],
            "area_m2": sp["area_m2"],
        },
        geometry=sp.geometry,
        crs=special.crs,
    )

    cls = lines["barrier_class"].astype(str)
    wanted = lines[
        (cls == "major_road") | cls.str.startswith("railway_") | cls.str.startswith("waterway_")
    ]
    ln = _clip_lines(wanted, bbox).sort_values("osm_id")
    barriers = gpd.GeoDataFrame(
        {
            "barrier_id": ln["osm_id"].astype(str),
            "name": ln["name"],
            "barrier_class": ln["barrier_class"],
            "highway": ln["highway"],
            "railway": ln["railway"],
            "waterway": ln["waterway"],
            "bridge": ln["bridge"],
            "tunnel": ln["tunnel"],
        },
        geometry=ln.geometry,
        crs=lines.crs,
    )
    # a few OSM ways were split by the clip into separate pieces with the same id
    dup = barriers["barrier_id"].duplicated(keep=False)
    barriers.loc[dup, "barrier_id"] = (
        barriers.loc[dup, "barrier_id"]
        + "_"
        + barriers.loc[dup].groupby("barrier_id").cumcount().astype(str)
    )
    _write(
        out / "taiyuan.gpkg",
        {
            "units": units,
            "compounds": compounds,
            "dedicated": dedicated,
            "barriers": barriers,
            "units_all_buildings": stress,
        },
    )


def camden(src: Path, out: Path) -> None:
    oas = gpd.read_file(src / "camden_oa2011_households.gpkg", layer="output_areas")
    oa = oas[oas["MSOA11CD"].isin(CAMDEN_MSOAS)].sort_values("OA11CD")
    units = gpd.GeoDataFrame(
        {
            "unit_id": oa["OA11CD"],
            "households": oa["households"].astype("int64"),
            "population": oa["population"].astype(float),
            "community_id": oa["MSOA11CD"],
            "OA11CD": oa["OA11CD"],
            "LSOA11CD": oa["LSOA11CD"],
            "MSOA11CD": oa["MSOA11CD"],
            "dwellings": oa["dwellings"],
            "household_spaces": oa["household_spaces"],
            "population_in_households": oa["population_in_households"],
            "area_m2": oa["area_m2"],
        },
        geometry=oa.geometry,
        crs=oas.crs,
    )
    msoa = units.dissolve("community_id", aggfunc={"households": "sum", "population": "sum"})
    communities = gpd.GeoDataFrame(
        {
            "community_id": msoa.index.astype(str),
            "name": "MSOA " + msoa.index.astype(str),
            "households": msoa["households"].to_numpy(),
            "population": msoa["population"].to_numpy(),
        },
        geometry=msoa.geometry.to_numpy(),
        crs=oas.crs,
    )
    _write(out / "camden_sample.gpkg", {"units": units, "communities": communities})


def main(argv: list[str]) -> None:
    src = Path(argv[1]) if len(argv) > 1 else SOURCE
    singapore(src, HERE)
    taiyuan(src, HERE)
    camden(src, HERE)


if __name__ == "__main__":
    main(sys.argv)
