"""Coordinate reference systems: the metric working CRS, the output CRS, and the Chinese
GCJ-02 / BD-09 coordinate offsets.

Grid sizes, compactness and barrier cuts are computed in metres, so every layer is moved into
one metric *working* CRS before planning. Chinese web maps (Gaode/AMap, Tencent, Baidu) publish
coordinates in the deliberately offset GCJ-02 ("Mars") or BD-09 systems; points digitised on
them are 300–700 m away from their true WGS84 position and must be converted back first.

Examples
--------
>>> lon, lat = wgs84_to_gcj02(116.397128, 39.916527)   # Tiananmen
>>> round(float(lon), 4), round(float(lat), 4)
(116.4034, 39.9179)
>>> back = gcj02_to_wgs84(lon, lat)
>>> round(float(back[0]), 6), round(float(back[1]), 6)
(116.397128, 39.916527)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

import geopandas as gpd
import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

logger = logging.getLogger(__name__)

SourceCRS = Literal["wgs84", "gcj02", "bd09"]
OutputFormat = Literal["geojson", "gpkg", "csv", "parquet"]

# Krasovsky 1940 ellipsoid, as used by the published GCJ-02 algorithm
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# EPSG:4534 is "CGCS2000 / 3-degree Gauss-Kruger CM 75E"; codes rise by one per 3 degrees up
# to EPSG:4554 (CM 135E), covering all of China.
_CGCS2000_GK3_FIRST_EPSG = 4534
_CGCS2000_GK3_FIRST_CM = 75
_CGCS2000_GK3_LAST_CM = 135


# ---------------------------------------------------------------------------------------------
# working and output CRS
# ---------------------------------------------------------------------------------------------


def _is_metric_projected(crs: pyproj.CRS) -> bool:
    if not crs.is_projected:
        return False
    units = {(ax.unit_name or "").lower() for ax in crs.axis_info[:2]}
    return units <= {"metre", "meter", "m"}


#: Projection methods whose metres are true ground metres near the data (conformal, with a
#: scale factor close to 1 across a district): national grids, UTM and Gauss-Krüger zones,
#: Lambert conformal conics and oblique/stereographic national systems. Mercator in any form
#: (Web Mercator EPSG:3857, World Mercator EPSG:3395) stretches distances by 1/cos(latitude),
#: 1.3x in Beijing; equal-area projections distort shapes, which compactness depends on.
PLANNING_METHODS = (
    "transverse mercator",
    "gauss",
    "lambert conic conformal",
    "oblique mercator",
    "stereographic",
)


def is_planning_crs(crs: object) -> bool:
    """Whether ``crs`` can be planned in as it is: projected, in metres, and conformal with a
    scale close to 1 (see :data:`PLANNING_METHODS`).

    Examples
    --------
    >>> is_planning_crs("EPSG:4547"), is_planning_crs("EPSG:27700"), is_planning_crs(32650)
    (True, True, True)
    >>> is_planning_crs("EPSG:3857"), is_planning_crs("EPSG:4326"), is_planning_crs(3395)
    (False, False, False)
    """
    c = pyproj.CRS.from_user_input(crs)
    if not _is_metric_projected(c):
        return False
    op = c.coordinate_operation
    method = (op.method_name if op is not None else "").lower()
    if "mercator" in method and "transverse" not in method and "oblique" not in method:
        return False
    return any(m in method for m in PLANNING_METHODS)


def check_planning_crs(crs: object, *, argument: str = "work_crs") -> pyproj.CRS:
    """``crs`` as a :class:`pyproj.CRS` when it can be planned in (:func:`is_planning_crs`);
    otherwise a :class:`~gridplan.errors.ValidationError` saying why and what to pass.

    Examples
    --------
    >>> check_planning_crs(32649).to_epsg()
    32649
    >>> check_planning_crs(3857)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gridplan.errors.ValidationError: 1 problem found in the input:
      - [arguments] `work_crs` EPSG:3857 (WGS 84 / Pseudo-Mercator) cannot be planned in: ...
    """
    from .errors import Problem, ValidationError

    try:
        c = pyproj.CRS.from_user_input(crs)
    except Exception as exc:  # pyproj.exceptions.CRSError, TypeError
        raise ValidationError(
            [Problem("arguments", argument, f"`{argument}` {crs!r} is not a CRS ({exc})")]
        ) from exc
    if is_planning_crs(c):
        return c
    name = f"EPSG:{c.to_epsg()} ({c.name})" if c.to_epsg() else repr(c.name)
    why = (
        "its coordinates are degrees, not metres"
        if c.is_geographic
        else "Mercator metres are 1/cos(latitude) too long (1.27x at Taiyuan) and other "
        "projections distort shapes"
    )
    raise ValidationError(
        [
            Problem(
                "arguments",
                argument,
                f"`{argument}` {name} cannot be planned in: {why}; leave `{argument}` out "
                "(gridplan picks the data's UTM or CGCS2000 Gauss-Kruger zone) or pass a "
                "conformal metric CRS such as EPSG:4547 or EPSG:32649",
            )
        ]
    )


def _is_cgcs2000_geographic(crs: pyproj.CRS) -> bool:
    if not crs.is_geographic:
        return False
    if crs.to_epsg() == 4490:
        return True
    datum = crs.datum.name if crs.datum is not None else ""
    return "China 2000" in datum or "CGCS2000" in datum or "CGCS_2000" in datum


def _lonlat_centre(gdf: gpd.GeoDataFrame) -> tuple[float, float]:
    """Centre of the data's bounding box as (lon, lat) in degrees.

    GeoPandas keeps x = longitude even for CRSs like EPSG:4490 whose official axis order is
    latitude first, so for geographic data the bounds are already lon/lat.
    """
    crs = pyproj.CRS.from_user_input(gdf.crs)
    if crs.is_geographic:
        minx, miny, maxx, maxy = gdf.total_bounds
    else:
        minx, miny, maxx, maxy = gdf.to_crs(4326).total_bounds
    if not np.all(np.isfinite([minx, miny, maxx, maxy])):
        raise ValueError("cannot choose a working CRS for a layer with no non-empty geometry")
    return (float(minx + maxx) / 2.0, float(miny + maxy) / 2.0)


def utm_crs(lon: float, lat: float) -> pyproj.CRS:
    """WGS84 / UTM zone holding ``(lon, lat)`` (EPSG:326xx north, 327xx south).

    Examples
    --------
    >>> utm_crs(103.8, 1.35).to_epsg()   # Singapore
    32648
    """
    zone = int(np.floor((lon + 180.0) / 6.0)) % 60 + 1
    return pyproj.CRS.from_epsg((32600 if lat >= 0 else 32700) + zone)


def cgcs2000_gk3_crs(lon: float) -> pyproj.CRS:
    """CGCS2000 3-degree Gauss-Krüger CRS (no zone prefix) whose central meridian is nearest
    ``lon``: CM = 3 * round(lon / 3), EPSG:4534 (75°E) to EPSG:4554 (135°E).

    Examples
    --------
    >>> cgcs2000_gk3_crs(112.55).name    # Taiyuan
    'CGCS2000 / 3-degree Gauss-Kruger CM 114E'
    """
    cm = 3 * round(lon / 3.0)
    if not _CGCS2000_GK3_FIRST_CM <= cm <= _CGCS2000_GK3_LAST_CM:
        raise ValueError(f"longitude {lon} is outside the CGCS2000 3-degree zones (73.5-136.5°E)")
    return pyproj.CRS.from_epsg(_CGCS2000_GK3_FIRST_EPSG + (cm - _CGCS2000_GK3_FIRST_CM) // 3)


def working_crs(gdf: gpd.GeoDataFrame) -> pyproj.CRS:
    """Choose the metric CRS gridplan computes in.

    * already in a conformal metric CRS (:func:`is_planning_crs`): keep it (e.g. EPSG:27700,
      EPSG:3414, EPSG:4547);
    * CGCS2000 geographic (EPSG:4490), or projected on the CGCS2000 datum in a CRS that is
      not conformal: the CGCS2000 3-degree Gauss-Krüger zone of the data's centre,
      EPSG:4534-4554, so results stay on the Chinese national datum;
    * anything else, Web Mercator (EPSG:3857) included: the WGS84 UTM zone of the data's
      centre. Web Mercator metres are 1/cos(latitude) too long (1.3x in Beijing), so a plan
      in them would size grids and barrier buffers wrongly.

    Raises
    ------
    ValueError
        If the layer has no CRS or no non-empty geometry.

    Examples
    --------
    >>> import geopandas as gpd
    >>> from shapely.geometry import Point
    >>> working_crs(gpd.GeoDataFrame(geometry=[Point(116.4, 39.9)], crs=4326)).to_epsg()
    32650
    """
    if gdf.crs is None:
        raise ValueError("the layer has no CRS; set it first with gdf.set_crs(...)")
    crs = pyproj.CRS.from_user_input(gdf.crs)
    if is_planning_crs(crs):
        return crs
    lon, lat = _lonlat_centre(gdf)
    if crs.is_projected:
        logger.info("%s is not a conformal metric CRS; planning in the data's zone", crs.name)
    geodetic = crs.geodetic_crs if crs.is_projected else crs
    if geodetic is not None and _is_cgcs2000_geographic(geodetic):
        try:
            return cgcs2000_gk3_crs(lon)
        except ValueError:
            logger.info("CGCS2000 data outside China's GK zones; using UTM instead")
    return utm_crs(lon, lat)


def to_working(gdf: gpd.GeoDataFrame, *, crs: pyproj.CRS | None = None) -> gpd.GeoDataFrame:
    """Return ``gdf`` reprojected to ``crs`` or, when not given, to :func:`working_crs`."""
    target = crs if crs is not None else working_crs(gdf)
    if gdf.crs is not None and pyproj.CRS.from_user_input(gdf.crs) == target:
        return gdf.copy()
    return gdf.to_crs(target)


def output_crs(input_crs: object, *, fmt: OutputFormat = "gpkg") -> pyproj.CRS:
    """CRS a result is written in.

    GeoJSON follows RFC 7946 and is always WGS84 longitude/latitude (EPSG:4326); so are CSV
    coordinates (a CSV carries no CRS, and lon/lat is what spreadsheets and web maps expect).
    GeoPackage and GeoParquet keep the CRS the user's data came in.

    Examples
    --------
    >>> output_crs("EPSG:27700", fmt="geojson").to_epsg()
    4326
    >>> output_crs("EPSG:27700", fmt="gpkg").to_epsg()
    27700
    """
    if fmt in ("geojson", "csv") or input_crs is None:
        return pyproj.CRS.from_epsg(4326)
    return pyproj.CRS.from_user_input(input_crs)


# ---------------------------------------------------------------------------------------------
# GCJ-02 and BD-09
# ---------------------------------------------------------------------------------------------


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


# Mainland China as rectangles (west, north, east, south), minus Taiwan, northern Vietnam/Laos
# and parts of Russia/Korea/Japan. This is the widely shared approximation used by web-map
# coordinate libraries; one big bounding box would wrongly shift Seoul, Osaka or Singapore.
_CHINA_IN = np.array(
    [
        [79.4462, 49.2204, 96.33, 42.8899],
        [109.6872, 54.1415, 135.0002, 39.3742],
        [73.1246, 42.8899, 124.143255, 29.5297],
        [82.9684, 29.5297, 97.0352, 26.7186],
        [97.0253, 29.5297, 124.367395, 20.414096],
        [107.975793, 20.414096, 111.744104, 17.871542],
    ]
)
_CHINA_OUT = np.array(
    [
        [119.921265, 25.398623, 122.497559, 21.785006],
        [101.8652, 22.284, 106.665, 20.0988],
        [106.4525, 21.5422, 108.051, 20.4878],
        [109.0323, 55.8175, 119.127, 50.3257],
        [127.4568, 55.8175, 137.0227, 49.5574],
        [131.2662, 44.8922, 137.0227, 42.5692],
    ]
)


def _in_rects(x: NDArray, y: NDArray, rects: NDArray) -> NDArray[np.bool_]:
    xs, ys = x[..., None], y[..., None]
    w, n, e, s = rects[:, 0], rects[:, 1], rects[:, 2], rects[:, 3]
    return np.any((xs >= w) & (xs <= e) & (ys >= s) & (ys <= n), axis=-1)


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether points lie in mainland China, where GCJ-02 applies; elsewhere GCJ-02 equals
    WGS84 and no offset is applied.

    Examples
    --------
    >>> in_china([116.4, 103.8, 121.5], [39.9, 1.35, 25.0]).tolist()  # Beijing, Singapore, Taipei
    [True, False, False]
    """
    x, y = _as_arrays(lon, lat)
    return _in_rects(x, y, _CHINA_IN) & ~_in_rects(x, y, _CHINA_OUT)


def _gcj_delta(
    x: NDArray[np.float64], y: NDArray[np.float64], *, masked: bool = True
) -> tuple[NDArray, NDArray]:
    """Offset (dlon, dlat) in degrees that GCJ-02 adds to a WGS84 point (published algorithm);
    zero outside China unless ``masked=False``."""
    xx = x - 105.0
    yy = y - 35.0
    sq = np.sqrt(np.abs(xx))
    dlat = -100.0 + 2.0 * xx + 3.0 * yy + 0.2 * yy * yy + 0.1 * xx * yy + 0.2 * sq
    dlat += (20.0 * np.sin(6.0 * xx * np.pi) + 20.0 * np.sin(2.0 * xx * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(yy * np.pi) + 40.0 * np.sin(yy / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(yy / 12.0 * np.pi) + 320.0 * np.sin(yy * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + xx + 2.0 * yy + 0.1 * xx * xx + 0.1 * xx * yy + 0.1 * sq
    dlon += (20.0 * np.sin(6.0 * xx * np.pi) + 20.0 * np.sin(2.0 * xx * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(xx * np.pi) + 40.0 * np.sin(xx / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(xx / 12.0 * np.pi) + 300.0 * np.sin(xx / 30.0 * np.pi)) * 2.0 / 3.0
    rad = y / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    if not masked:
        return dlon, dlat
    inside = in_china(x, y)
    return np.where(inside, dlon, 0.0), np.where(inside, dlat, 0.0)


def _unpack(x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    # return numpy scalars (0-d) for scalar input, arrays otherwise
    return x[()], y[()]


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """WGS84 → GCJ-02 (the offset used by Gaode/AMap, Tencent and Google China). Vectorised.

    Examples
    --------
    >>> x, y = wgs84_to_gcj02([116.397128, 0.0], [39.916527, 0.0])
    >>> x.round(4).tolist(), y.round(4).tolist()   # outside China nothing changes
    ([116.4034, 0.0], [39.9179, 0.0])
    """
    x, y = _as_arrays(lon, lat)
    dx, dy = _gcj_delta(x, y)
    return _unpack(x + dx, y + dy)


def gcj02_to_wgs84(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-10
) -> tuple[NDArray, NDArray]:
    """GCJ-02 → WGS84 by fixed-point iteration on the forward transform.

    The forward offset varies slowly, so ``w ← w - (f(w) - g)`` converges to well under a
    millimetre in a handful of steps; the loop stops at ``tol_deg`` (1e-10° ≈ 0.01 mm).
    Points outside China are returned unchanged. Within ~700 m of the edge of the China
    region the inverse is ambiguous (a shifted point and an unshifted one can share a GCJ-02
    position); like the published implementations, the GCJ-02 position decides.
    """
    gx, gy = _as_arrays(lon, lat)
    shifted = in_china(gx, gy)
    wx, wy = gx.copy(), gy.copy()
    for _ in range(30):
        dx, dy = _gcj_delta(wx, wy, masked=False)
        ex, ey = wx + dx - gx, wy + dy - gy
        wx, wy = wx - ex, wy - ey
        if np.all(np.abs(ex) < tol_deg) and np.all(np.abs(ey) < tol_deg):
            break
    return _unpack(np.where(shifted, wx, gx), np.where(shifted, wy, gy))


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """GCJ-02 → BD-09 (Baidu Maps). Vectorised."""
    x, y = _as_arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return _unpack(z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006)


def bd09_to_gcj02(
    lon: ArrayLike, lat: ArrayLike, *, tol_deg: float = 1e-10
) -> tuple[NDArray, NDArray]:
    """BD-09 → GCJ-02.

    Starts from the usual closed-form approximation and refines it by iterating on
    :func:`gcj02_to_bd09`, so the round trip is exact to ~0.01 mm rather than ~1 m.
    """
    bx, by = _as_arrays(lon, lat)
    x, y = bx - 0.0065, by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    gx, gy = z * np.cos(theta), z * np.sin(theta)
    for _ in range(30):
        fx, fy = gcj02_to_bd09(gx, gy)
        ex, ey = np.asarray(fx) - bx, np.asarray(fy) - by
        gx, gy = gx - ex, gy - ey
        if np.all(np.abs(ex) < tol_deg) and np.all(np.abs(ey) < tol_deg):
            break
    return _unpack(gx, gy)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """BD-09 → WGS84 (through GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray, NDArray]:
    """WGS84 → BD-09 (through GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


_TO_WGS84: dict[str, Callable[[ArrayLike, ArrayLike], tuple[NDArray, NDArray]]] = {
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}


def unshift_geometry(geoms: ArrayLike, *, source: SourceCRS) -> NDArray:
    """Convert an array of shapely geometries in GCJ-02/BD-09 lon/lat to WGS84 lon/lat.

    Z values (if any) are kept; ``None`` stays ``None``.
    """
    arr = np.asarray(geoms, dtype=object)
    if source == "wgs84":
        return arr
    convert = _TO_WGS84[source]

    def _f(coords: NDArray) -> NDArray:
        out = np.array(coords, dtype=float, copy=True)
        if len(out):
            x, y = convert(out[:, 0], out[:, 1])
            out[:, 0], out[:, 1] = x, y
        return out

    return shapely.transform(arr, _f, include_z=None)


def unshift_to_wgs84(gdf: gpd.GeoDataFrame, *, source: SourceCRS) -> gpd.GeoDataFrame:
    """Return a copy of ``gdf`` with GCJ-02/BD-09 coordinates converted to WGS84 (EPSG:4326).

    The layer's own CRS must be geographic (web-map exports usually label GCJ-02 data as
    EPSG:4326) or missing.
    """
    out = gdf.copy()
    if source == "wgs84":
        return out
    if gdf.crs is not None and not pyproj.CRS.from_user_input(gdf.crs).is_geographic:
        raise ValueError(
            f"source_crs={source!r} needs longitude/latitude coordinates, but the layer is in "
            f"the projected CRS {gdf.crs.name!r}"
        )
    geoms = unshift_geometry(gdf.geometry.to_numpy(), source=source)
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=4326)
    return out.set_crs(4326, allow_override=True)
