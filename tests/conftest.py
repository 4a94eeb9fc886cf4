"""Shared fixtures: small synthetic lattices and writers into ``tmp_path``.

``lattice_units(nx, ny, households=...)`` builds an ``nx`` × ``ny`` lattice of 100 m squares in
EPSG:32649 (UTM 49N, Taiyuan) with columns ``unit_id`` (``"u0"``, ``"u1"``, … row-major),
``households``, ``row`` and ``col``. ``households`` may be one number for every unit, a
sequence, or a function ``(row, col) -> int``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import box

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
LATTICE_ORIGIN = (500_000.0, 4_180_000.0)  # UTM 49N, near Taiyuan
LATTICE_CELL_M = 100.0

Households = int | Sequence[int] | Callable[[int, int], int]


def make_lattice_units(
    nx: int,
    ny: int,
    *,
    households: Households = 40,
    cell: float = LATTICE_CELL_M,
    crs: str = "EPSG:32649",
) -> gpd.GeoDataFrame:
    x0, y0 = LATTICE_ORIGIN
    rows, cols, geoms, hh = [], [], [], []
    for r in range(ny):
        for c in range(nx):
            k = r * nx + c
            rows.append(r)
            cols.append(c)
            geoms.append(
                box(x0 + c * cell, y0 + r * cell, x0 + (c + 1) * cell, y0 + (r + 1) * cell)
            )
            if callable(households):
                hh.append(int(households(r, c)))
            elif isinstance(households, Sequence):
                hh.append(int(households[k]))
            else:
                hh.append(int(households))
    return gpd.GeoDataFrame(
        {
            "unit_id": [f"u{k}" for k in range(nx * ny)],
            "households": hh,
            "row": rows,
            "col": cols,
        },
        geometry=geoms,
        crs=crs,
    )


@pytest.fixture
def lattice_units() -> Callable[..., gpd.GeoDataFrame]:
    """Factory: ``lattice_units(nx, ny, households=40)`` → square-lattice units (EPSG:32649)."""
    return make_lattice_units


@pytest.fixture
def data_dir() -> Path:
    """The bundled sample GeoPackages (``data/``)."""
    return DATA


@pytest.fixture
def write_gpkg(tmp_path: Path) -> Callable[..., Path]:
    """Writer: ``write_gpkg({"units": gdf, ...}, name="input.gpkg")`` → path in ``tmp_path``."""

    def _write(layers: dict[str, gpd.GeoDataFrame], name: str = "input.gpkg") -> Path:
        path = tmp_path / name
        for layer, gdf in layers.items():
            gdf.to_file(path, layer=layer, driver="GPKG", engine="pyogrio")
        return path

    return _write
