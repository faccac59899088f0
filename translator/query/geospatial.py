"""Geospatial query operators, evaluated per document without an index.

mongod's semantics: the legacy shapes (``$box``, ``$polygon``, ``$center``) are planar and
hold points only; ``$geometry`` shapes and ``$centerSphere`` are spherical, edges being the
shortest great-circle arcs. Spherical work is done by Google's S2 library, the one mongod
embeds, so antimeridian crossings and poles need no special case. Boundaries belong to a
shape: a point on an edge or vertex is within it and intersects it, as mongod tests a point
with ``Contains(point) or MayIntersect(leaf cell of the point)``.
$near and $nearSphere sort by distance and need a geospatial index: refused in compile.py.
https://www.mongodb.com/docs/manual/reference/operator/query-geospatial/
"""

from __future__ import annotations

import math
from typing import Any, Callable

import s2geometry as s2
from bson import Decimal128

from translator.errors import SpecError
from translator.query.compile import value_operator

BIG_POLYGON_CRS = "urn:x-mongodb:crs:strictwinding:EPSG:4326"
DEFAULT_CRS = frozenset({"EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84", "urn:ogc:def:crs:EPSG::4326"})
WITHIN_GEOMETRIES = ("Polygon", "MultiPolygon")
INTERSECTS_GEOMETRIES = ("Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection")

Part = tuple  # ("point", S2Point) | ("line", S2Polyline) | ("polygon", S2Polygon), plus its vertices


class BadGeometry(ValueError):
    """A geometry that mongod would not parse (raised with the reason)."""


def _number(value: Any) -> float | None:
    kind = type(value)
    if kind is float or (isinstance(value, int) and kind is not bool):
        return float(value)
    if kind is Decimal128:
        return float(value.to_decimal())
    return None


def _pair(value: Any) -> tuple[float, float] | None:
    """A legacy coordinate pair: an array or an embedded document of exactly two numbers."""
    items = value if type(value) is list else list(value.values()) if type(value) is dict else None
    if items is None or len(items) != 2:
        return None
    x, y = _number(items[0]), _number(items[1])
    return None if x is None or y is None else (x, y)


def _position(value: Any) -> tuple[float, float]:
    """A GeoJSON position ``[longitude, latitude, ...]`` within the bounds of the globe."""
    if type(value) is not list or len(value) < 2:
        raise BadGeometry("a position must be an array of at least two numbers")
    lng, lat = _number(value[0]), _number(value[1])
    if lng is None or lat is None:
        raise BadGeometry("a position must hold numbers")
    if not (-180 <= lng <= 180 and -90 <= lat <= 90):
        raise BadGeometry(f"longitude/latitude is out of bounds: [{value[0]}, {value[1]}]")
    return lng, lat


def _s2_point(lng: float, lat: float) -> s2.S2Point:
    return s2.S2LatLng.FromDegrees(lat, lng).ToPoint()


def _unit_vector(lng: float, lat: float) -> tuple[float, float, float]:
    phi, theta = math.radians(lat), math.radians(lng)
    return (math.cos(phi) * math.cos(theta), math.cos(phi) * math.sin(theta), math.sin(phi))


def _angle(a: tuple, b: tuple) -> float:
    """The great-circle angle between two unit vectors (stable near 0 and π)."""
    cx, cy, cz = a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]
    return math.atan2(math.sqrt(cx * cx + cy * cy + cz * cz), a[0] * b[0] + a[1] * b[1] + a[2] * b[2])


def _ring(coordinates: Any, strict_winding: bool) -> tuple[s2.S2Loop, list]:
    if type(coordinates) is not list or len(coordinates) < 4:
        raise BadGeometry("a polygon ring must have at least 4 positions")
    positions = [_position(item) for item in coordinates]
    if positions[0] != positions[-1]:
        raise BadGeometry("a polygon ring must be closed (first and last positions equal)")
    distinct = [p for i, p in enumerate(positions[:-1]) if i == 0 or p != positions[i - 1]]
    if len(set(distinct)) < 3:
        raise BadGeometry("a polygon ring must have at least 3 distinct positions")
    loop = s2.S2Loop([_s2_point(*p) for p in distinct])
    if not loop.IsValid():
        raise BadGeometry("a polygon ring is not valid (its edges cross or it is degenerate)")
    if not strict_winding:
        loop.Normalize()  # the interior is the smaller region, whichever way the ring winds
    return loop, distinct


def _polygon(coordinates: Any, strict_winding: bool = False) -> Part:
    if type(coordinates) is not list or not coordinates:
        raise BadGeometry("polygon coordinates must be a non-empty array of rings")
    if strict_winding and len(coordinates) != 1:
        raise BadGeometry(f"a polygon with crs {BIG_POLYGON_CRS} may only have an exterior ring")
    rings = [_ring(ring, strict_winding) for ring in coordinates]
    shell = rings[0][0]
    for hole, _ in rings[1:]:
        if not shell.Contains(hole):
            raise BadGeometry("a polygon's hole is not contained by its exterior ring")
    polygon = s2.S2Polygon()
    if strict_winding:
        polygon = s2.S2Polygon(shell)
    else:
        polygon.InitNested([loop for loop, _ in rings])
    if not polygon.IsValid():
        raise BadGeometry("the polygon is not valid (its rings cross)")
    return ("polygon", polygon, [_unit_vector(*p) for _, ring in rings for p in ring])


def _line(coordinates: Any) -> Part:
    if type(coordinates) is not list or len(coordinates) < 2:
        raise BadGeometry("a LineString must have at least 2 positions")
    positions = [_position(item) for item in coordinates]
    line = s2.S2Polyline()
    line.InitFromS2Points([_s2_point(*p) for p in positions])
    if not line.IsValid():
        raise BadGeometry("the LineString is not valid (adjacent antipodal or equal positions)")
    return ("line", line, [_unit_vector(*p) for p in positions])


def _point(lng: float, lat: float) -> Part:
    return ("point", _s2_point(lng, lat), [_unit_vector(lng, lat)])


def _multi(coordinates: Any, make: Callable) -> list[Part]:
    if type(coordinates) is not list or not coordinates:
        raise BadGeometry("a Multi* geometry needs a non-empty coordinates array")
    return [make(item) for item in coordinates]


def geojson_parts(geometry: dict, strict_winding: bool = False) -> list[Part]:
    """A GeoJSON geometry as its parts (a Multi* or a collection has several)."""
    kind, coordinates = geometry.get("type"), geometry.get("coordinates")
    if kind == "Point":
        return [_point(*_position(coordinates))]
    if kind == "LineString":
        return [_line(coordinates)]
    if kind == "Polygon":
        return [_polygon(coordinates, strict_winding)]
    if kind == "MultiPoint":
        return _multi(coordinates, lambda item: _point(*_position(item)))
    if kind == "MultiLineString":
        return _multi(coordinates, _line)
    if kind == "MultiPolygon":
        return _multi(coordinates, _polygon)
    if kind == "GeometryCollection":
        members = geometry.get("geometries")
        if type(members) is not list or not all(type(member) is dict for member in members):
            raise BadGeometry("a GeometryCollection needs a geometries array of objects")
        return [part for member in members for part in geojson_parts(member)]
    raise BadGeometry(f"unknown GeoJSON type: {kind!r}")


def document_parts(value: Any) -> list[Part] | None:
    """A stored value's geometry for spherical tests, or None when it holds none."""
    if type(value) is dict and "type" in value:
        try:
            return geojson_parts(value)
        except BadGeometry:
            return None
    pair = _pair(value)
    if pair is None or not (-180 <= pair[0] <= 180 and -90 <= pair[1] <= 90):
        return None
    return [_point(*pair)]


def planar_point(value: Any) -> tuple[float, float] | None:
    """A stored value's point for planar tests: a legacy pair or a GeoJSON Point."""
    if type(value) is dict and value.get("type") == "Point":
        coordinates = value.get("coordinates")
        if type(coordinates) is list and len(coordinates) >= 2:
            return _pair(coordinates[:2])
        return None
    return _pair(value)


# --- spherical relations between one shape part and another ---------------------------

def _leaf_cell(point: s2.S2Point) -> s2.S2Cell:
    return s2.S2Cell(s2.S2CellId(point))


def _polygon_holds_point(polygon: s2.S2Polygon, point: s2.S2Point) -> bool:
    return polygon.Contains(point) or polygon.MayIntersect(_leaf_cell(point))


def _polygon_contains(polygon: s2.S2Polygon, part: Part) -> bool:
    kind, shape = part[0], part[1]
    if kind == "point":
        return _polygon_holds_point(polygon, shape)
    if kind == "line":
        pieces = polygon.IntersectWithPolyline(shape)
        return len(pieces) == 1 and pieces[0].ApproxEquals(shape)
    return polygon.Contains(shape)


def _intersects(a: Part, b: Part) -> bool:
    if a[0] > b[0]:  # order the pair as line < point < polygon
        a, b = b, a
    kinds = (a[0], b[0])
    if kinds == ("point", "point"):
        return s2.S2CellId(a[1]) == s2.S2CellId(b[1])
    if kinds == ("line", "point"):
        return a[1].MayIntersect(_leaf_cell(b[1]))
    if kinds == ("line", "line"):
        return a[1].Intersects(b[1]) or any(a[1].MayIntersect(_leaf_cell(b[1].vertex(i))) for i in range(b[1].num_vertices()))
    if kinds == ("line", "polygon"):
        return len(b[1].IntersectWithPolyline(a[1])) > 0 or any(
            _polygon_holds_point(b[1], a[1].vertex(i)) for i in range(a[1].num_vertices())
        )
    if kinds == ("point", "polygon"):
        return _polygon_holds_point(b[1], a[1])
    return a[1].Intersects(b[1])


# --- query shapes -------------------------------------------------------------------------

def _query_geometry(operand: Any, at: tuple, allowed: tuple) -> list[Part]:
    if type(operand) is not dict:
        msg = "$geometry needs a GeoJSON object"
        raise SpecError(msg, at)
    kind = operand.get("type")
    if kind not in allowed:
        msg = f"$geometry type must be one of {', '.join(allowed)}; got {kind!r}"
        raise SpecError(msg, (*at, "type"))
    crs = operand.get("crs")
    strict_winding = False
    if crs is not None:
        name = crs.get("properties", {}).get("name") if type(crs) is dict else None
        if name == BIG_POLYGON_CRS and kind == "Polygon":
            strict_winding = True
        elif name not in DEFAULT_CRS:
            msg = f"unsupported crs {name!r}: use EPSG:4326, or {BIG_POLYGON_CRS} with a Polygon"
            raise SpecError(msg, (*at, "crs"))
    try:
        return geojson_parts(operand, strict_winding)
    except BadGeometry as exc:
        raise SpecError(str(exc), at) from None


def _legacy_points(operand: Any, at: tuple, name: str, count: int | None) -> list[tuple[float, float]]:
    points = [_pair(item) for item in operand] if type(operand) is list else [None]
    if None in points or (count is not None and len(points) != count) or (count is None and len(points) < 3):
        wanted = f"{count} coordinate pairs" if count else "at least 3 coordinate pairs"
        msg = f"{name} needs {wanted}"
        raise SpecError(msg, at)
    return points


def _circle(operand: Any, at: tuple, name: str) -> tuple[tuple[float, float], float]:
    center = _pair(operand[0]) if type(operand) is list and len(operand) == 2 else None
    radius = _number(operand[1]) if center is not None else None
    if center is None or radius is None or radius < 0 or radius != radius:
        msg = f"{name} needs [[x, y], radius] with a radius of 0 or more"
        raise SpecError(msg, at)
    return center, radius


def _on_segment(p: tuple, a: tuple, b: tuple) -> bool:
    cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])
    return cross == 0 and min(a[0], b[0]) <= p[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= p[1] <= max(a[1], b[1])


def _planar_polygon_test(vertices: list) -> Callable[[tuple], bool]:
    """Even-odd ray casting; a point on an edge is inside."""
    edges = list(zip(vertices, vertices[1:] + vertices[:1]))

    def inside(p: tuple) -> bool:
        x, y = p
        crossings = False
        for a, b in edges:
            if _on_segment(p, a, b):
                return True
            if (a[1] > y) != (b[1] > y) and x < a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]):
                crossings = not crossings
        return crossings

    return inside


def _planar(point_test: Callable[[tuple], bool]) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        point = planar_point(value)
        return point is not None and point_test(point)

    return test


def _spherical(part_test: Callable[[Part], bool]) -> Callable[[Any], bool]:
    """Within: every part of the stored geometry passes."""

    def test(value: Any) -> bool:
        parts = document_parts(value)
        return parts is not None and all(part_test(part) for part in parts)

    return test


def _compile_within(shape: str, operand: Any, at: tuple) -> Callable[[Any], bool]:
    where = (*at, shape)
    if shape == "$box":
        (x1, y1), (x2, y2) = _legacy_points(operand, where, "$box", 2)
        low_x, high_x, low_y, high_y = min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2)
        return _planar(lambda p: low_x <= p[0] <= high_x and low_y <= p[1] <= high_y)
    if shape == "$polygon":
        return _planar(_planar_polygon_test(_legacy_points(operand, where, "$polygon", None)))
    if shape == "$center":
        (cx, cy), radius = _circle(operand, where, "$center")
        squared = radius * radius
        return _planar(lambda p: (p[0] - cx) ** 2 + (p[1] - cy) ** 2 <= squared)
    if shape == "$centerSphere":
        (lng, lat), radius = _circle(operand, where, "$centerSphere")
        if not (-180 <= lng <= 180 and -90 <= lat <= 90):
            msg = "$centerSphere's center is out of bounds: longitude in [-180, 180], latitude in [-90, 90]"
            raise SpecError(msg, where)
        center = _unit_vector(lng, lat)
        return _spherical(lambda part: all(_angle(center, vertex) <= radius for vertex in part[2]))
    if shape == "$geometry":
        regions = [part[1] for part in _query_geometry(operand, where, WITHIN_GEOMETRIES)]
        return _spherical(lambda part: any(_polygon_contains(region, part) for region in regions))
    msg = f"$geoWithin takes $box, $polygon, $center, $centerSphere or $geometry; got {shape!r}"
    raise SpecError(msg, at)


@value_operator("$geoWithin")
def compile_geo_within(operand: Any, at: tuple):
    if type(operand) is not dict or len(operand) != 1:
        msg = "$geoWithin needs an object with one shape: $box, $polygon, $center, $centerSphere or $geometry"
        raise SpecError(msg, at)
    ((shape, spec),) = operand.items()
    return _compile_within(shape, spec, at)


@value_operator("$geoIntersects")
def compile_geo_intersects(operand: Any, at: tuple):
    if type(operand) is not dict or set(operand) != {"$geometry"}:
        msg = "$geoIntersects needs {$geometry: <GeoJSON>}"
        raise SpecError(msg, at)
    query_parts = _query_geometry(operand["$geometry"], (*at, "$geometry"), INTERSECTS_GEOMETRIES)

    def test(value: Any) -> bool:
        parts = document_parts(value)
        return parts is not None and any(_intersects(mine, theirs) for mine in parts for theirs in query_parts)

    return test
