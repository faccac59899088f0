"""Geospatial query operators: rows of (filter, document, matches?) from MongoDB's $geoWithin and
$geoIntersects pages and hand-checked edge cases (edges, holes, antimeridian, great circles)."""

from __future__ import annotations

import math

import pytest
from bson import Decimal128, Int64
from pipeline_runner import run_pipeline, with_documents

from translator.errors import SpecError
from translator.query import compile_query


def within(shape: dict) -> dict:
    return {"loc": {"$geoWithin": shape}}


def intersects(geometry: dict) -> dict:
    return {"loc": {"$geoIntersects": {"$geometry": geometry}}}


def point(lng: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lng, lat]}


def square(x0: float, y0: float, x1: float, y1: float) -> list:
    return [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]


def polygon(*rings: list) -> dict:
    return {"type": "Polygon", "coordinates": list(rings)}


# The docs' triangle ($geoWithin and $geoIntersects examples).
TRIANGLE = polygon([[0, 0], [3, 6], [6, 1], [0, 0]])
SQUARE = polygon(square(0, 0, 10, 10))
HOLED = polygon(square(0, 0, 10, 10), square(2, 2, 4, 4))
# Along lat 50 on a plane, but its south edge is a great circle bulging north to 50.42° at lng 0.
NORTHERN = square(-10, 50, 10, 60)
ACROSS_ANTIMERIDIAN = polygon([[170, -10], [-170, -10], [-170, 10], [170, 10], [170, -10]])
STRICT_WINDING = {"type": "name", "properties": {"name": "urn:x-mongodb:crs:strictwinding:EPSG:4326"}}
TEN_MILES = 10 / 3963.2  # the $centerSphere page: miles over the Earth's radius in miles

ROWS = [
    # $box (planar, legacy pairs), https://www.mongodb.com/docs/manual/reference/operator/query/box/
    (within({"$box": [[0, 0], [100, 100]]}), [50, 50], True),
    (within({"$box": [[0, 0], [100, 100]]}), [100, 100], True),  # corner
    (within({"$box": [[0, 0], [100, 100]]}), [100, 50], True),  # edge
    (within({"$box": [[0, 0], [100, 100]]}), [100.5, 50], False),
    (within({"$box": [[100, 100], [0, 0]]}), [50, 50], True),  # corners in either order
    (within({"$box": [[0, 0], [100, 100]]}), {"lng": 5, "lat": 7}, True),  # embedded-document pair
    (within({"$box": [[0, 0], [100, 100]]}), point(5, 7), True),  # a GeoJSON point as a plane point
    (within({"$box": [[0, 0], [100, 100]]}), [[500, 500], [50, 50]], True),  # one of several locations
    (within({"$box": [[0, 0], [100, 100]]}), [Int64(5), Decimal128("7.5")], True),
    (within({"$box": [[0, 0], [100, 100]]}), polygon(square(1, 1, 2, 2)), False),  # legacy shapes hold points only
    (within({"$box": [[0, 0], [100, 100]]}), "50,50", False),
    (within({"$box": [[0, 0], [100, 100]]}), [1, 2, 3], False),
    # $polygon (planar), https://www.mongodb.com/docs/manual/reference/operator/query/polygon/
    (within({"$polygon": [[0, 0], [3, 6], [6, 0]]}), [3, 3], True),
    (within({"$polygon": [[0, 0], [3, 6], [6, 0]]}), [3, 0], True),  # on an edge
    (within({"$polygon": [[0, 0], [3, 6], [6, 0]]}), [3, 6], True),  # a vertex
    (within({"$polygon": [[0, 0], [3, 6], [6, 0]]}), [6, 6], False),
    (within({"$polygon": [[0, 0], [3, 6], [6, 0]]}), [1, 4], False),
    (within({"$polygon": NORTHERN}), [0, 50.2], True),  # planar: straight edges
    # $center (planar), https://www.mongodb.com/docs/manual/reference/operator/query/center/
    (within({"$center": [[-74, 40.74], 10]}), [-74, 40.74], True),
    (within({"$center": [[-74, 40.74], 10]}), [-64, 40.74], True),  # on the circle
    (within({"$center": [[-74, 40.74], 10]}), [-63.9, 40.74], False),
    (within({"$center": [[0, 0], 10]}), [200, 0], False),
    # $centerSphere (spherical, radians), https://www.mongodb.com/docs/manual/reference/operator/query/centerSphere/
    (within({"$centerSphere": [[-88, 30], TEN_MILES]}), [-88, 30.14], True),  # 9.7 miles north
    (within({"$centerSphere": [[-88, 30], TEN_MILES]}), [-88, 30.15], False),  # 10.4 miles north
    (within({"$centerSphere": [[-88, 30], TEN_MILES]}), point(-88.1, 30), True),
    (within({"$centerSphere": [[0, 0], math.radians(10)]}), [9.999, 0], True),
    (within({"$centerSphere": [[0, 0], math.radians(10)]}), [10.001, 0], False),
    (within({"$centerSphere": [[179, 0], math.radians(2)]}), [-179, 0], True),  # across the antimeridian
    (within({"$centerSphere": [[179, 0], math.radians(2)]}), [-178.5, 0], False),
    (within({"$centerSphere": [[0, 90], math.radians(5)]}), [123, 86], True),  # around the pole
    (within({"$centerSphere": [[0, 90], math.radians(5)]}), [0, 84], False),
    (within({"$centerSphere": [[0, 0], math.radians(10)]}), {"type": "LineString", "coordinates": [[-5, 0], [5, 5]]}, True),
    (within({"$centerSphere": [[0, 0], math.radians(10)]}), {"type": "LineString", "coordinates": [[-5, 0], [15, 0]]}, False),
    # $geometry (spherical), https://www.mongodb.com/docs/manual/reference/operator/query/geoWithin/
    (within({"$geometry": TRIANGLE}), point(3, 3), True),
    (within({"$geometry": TRIANGLE}), point(5, 5), False),
    (within({"$geometry": SQUARE}), [5, 5], True),  # a legacy pair, taken as [lng, lat]
    (within({"$geometry": SQUARE}), [200, 5], False),  # not on the globe
    (within({"$geometry": SQUARE}), point(10, 5), True),  # on an edge (a meridian)
    (within({"$geometry": SQUARE}), point(0, 0), True),  # a vertex
    (within({"$geometry": HOLED}), point(3, 3), False),  # in the hole
    (within({"$geometry": HOLED}), point(1, 1), True),
    (within({"$geometry": HOLED}), point(2, 3), True),  # on the hole's edge: still the polygon's boundary
    (within({"$geometry": HOLED}), point(11, 5), False),
    (within({"$geometry": polygon(NORTHERN)}), point(0, 50.2), False),  # south of the great-circle edge
    (within({"$geometry": polygon(NORTHERN)}), point(0, 50.5), True),
    (within({"$geometry": ACROSS_ANTIMERIDIAN}), point(180, 0), True),
    (within({"$geometry": ACROSS_ANTIMERIDIAN}), point(-180, 5), True),
    (within({"$geometry": ACROSS_ANTIMERIDIAN}), point(175, -5), True),
    (within({"$geometry": ACROSS_ANTIMERIDIAN}), point(0, 0), False),
    (within({"$geometry": ACROSS_ANTIMERIDIAN}), point(160, 0), False),
    (within({"$geometry": polygon(square(0, 0, 10, 10)[::-1])}), point(5, 5), True),  # winding ignored by default
    (within({"$geometry": {**polygon([[0, 0], [0, 10], [10, 10], [10, 0], [0, 0]]), "crs": STRICT_WINDING}}), point(5, 5), False),
    (within({"$geometry": {**polygon([[0, 0], [0, 10], [10, 10], [10, 0], [0, 0]]), "crs": STRICT_WINDING}}), point(50, 50), True),
    (within({"$geometry": {"type": "MultiPolygon", "coordinates": [[square(0, 0, 1, 1)], [square(5, 5, 6, 6)]]}}), point(5.5, 5.5), True),
    (within({"$geometry": {"type": "MultiPolygon", "coordinates": [[square(0, 0, 1, 1)], [square(5, 5, 6, 6)]]}}), point(3, 3), False),
    (within({"$geometry": SQUARE}), polygon(square(1, 1, 2, 2)), True),
    (within({"$geometry": SQUARE}), polygon(square(8, 8, 12, 12)), False),
    (within({"$geometry": SQUARE}), {"type": "LineString", "coordinates": [[1, 1], [9, 9]]}, True),
    (within({"$geometry": SQUARE}), {"type": "LineString", "coordinates": [[1, 1], [11, 11]]}, False),
    (within({"$geometry": SQUARE}), {"type": "MultiPoint", "coordinates": [[1, 1], [9, 9]]}, True),
    (within({"$geometry": SQUARE}), {"type": "GeometryCollection", "geometries": [point(5, 5), point(50, 50)]}, False),
    (within({"$geometry": SQUARE}), {"type": "Point", "coordinates": [5, 95]}, False),  # invalid GeoJSON never matches
    # $geoIntersects, https://www.mongodb.com/docs/manual/reference/operator/query/geoIntersects/
    (intersects(TRIANGLE), point(3, 3), True),
    (intersects(TRIANGLE), point(7, 7), False),
    (intersects(SQUARE), {"type": "LineString", "coordinates": [[-5, 5], [5, 5]]}, True),
    (intersects(SQUARE), {"type": "LineString", "coordinates": [[-5, -5], [-5, 15]]}, False),
    (intersects(SQUARE), polygon(square(8, 8, 12, 12)), True),
    (intersects(SQUARE), polygon(square(20, 20, 30, 30)), False),
    (intersects(SQUARE), polygon(square(-20, -20, 30, 30)), True),  # the query inside the document
    (intersects(SQUARE), {"type": "GeometryCollection", "geometries": [point(50, 50), point(5, 5)]}, True),
    (intersects(HOLED), point(3, 3), False),
    (intersects(HOLED), polygon(square(2.5, 2.5, 3.5, 3.5)), False),  # inside the hole
    (intersects({"type": "LineString", "coordinates": [[0, 0], [0, 10]]}), point(0, 5), True),  # on the line
    (intersects({"type": "LineString", "coordinates": [[0, 0], [0, 10]]}), point(0.001, 5), False),
    (intersects({"type": "LineString", "coordinates": [[170, 0], [-170, 0]]}), point(180, 0), True),
    (intersects({"type": "LineString", "coordinates": [[170, 0], [-170, 0]]}), point(0, 0), False),
    (intersects({"type": "LineString", "coordinates": [[-5, 5], [5, 5]]}), {"type": "LineString", "coordinates": [[0, 0], [0, 10]]}, True),
    (intersects({"type": "LineString", "coordinates": [[-5, 5], [5, 5]]}), [0, 10], False),
    (intersects(point(5, 5)), polygon(square(0, 0, 10, 10)), True),
    (intersects(point(5, 5)), point(5, 5), True),
    (intersects(point(5, 5)), [5, 5], True),
    (intersects(point(5, 5)), point(5, 6), False),
    (intersects({"type": "MultiPoint", "coordinates": [[50, 50], [5, 5]]}), polygon(square(0, 0, 10, 10)), True),
    (intersects({"type": "MultiLineString", "coordinates": [[[20, 0], [20, 5]], [[-1, 5], [1, 5]]]}), polygon(square(0, 0, 10, 10)), True),
    (intersects({"type": "MultiPolygon", "coordinates": [[square(20, 20, 21, 21)], [square(30, 30, 31, 31)]]}), point(5, 5), False),
]


@pytest.mark.parametrize(("query", "loc", "expected"), ROWS)
def test_geospatial(query: dict, loc, expected: bool) -> None:
    assert compile_query(query)({"loc": loc}) is expected


def test_missing_location_never_matches() -> None:
    assert compile_query(within({"$box": [[0, 0], [1, 1]]}))({}) is False
    assert compile_query(intersects(SQUARE))({"loc": None}) is False


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (within({}), "$geoWithin needs an object with one shape: $box, $polygon, $center, $centerSphere or $geometry"),
        (within({"$square": 1}), "$geoWithin takes $box, $polygon, $center, $centerSphere or $geometry; got '$square'"),
        (within({"$box": [[0, 0]]}), "$box needs 2 coordinate pairs"),
        (within({"$polygon": [[0, 0], [1, 1]]}), "$polygon needs at least 3 coordinate pairs"),
        (within({"$center": [[0, 0], -1]}), "$center needs [[x, y], radius] with a radius of 0 or more"),
        (within({"$centerSphere": [[0, 100], 0.1]}), "$centerSphere's center is out of bounds: longitude in [-180, 180], latitude in [-90, 90]"),
        (within({"$geometry": point(0, 0)}), "$geometry type must be one of Polygon, MultiPolygon; got 'Point'"),
        (within({"$geometry": polygon([[0, 0], [1, 0], [1, 1], [0, 1]])}), "a polygon ring must be closed (first and last positions equal)"),
        (within({"$geometry": polygon([[0, 0], [10, 10], [10, 0], [0, 10], [0, 0]])}), "a polygon ring is not valid (its edges cross or it is degenerate)"),
        (within({"$geometry": polygon(square(0, 0, 10, 10), square(20, 20, 30, 30))}), "a polygon's hole is not contained by its exterior ring"),
        (within({"$geometry": polygon(square(0, 0, 200, 10))}), "longitude/latitude is out of bounds: [200, 0]"),
        (intersects({"type": "Circle", "coordinates": [0, 0]}), "$geometry type must be one of Point, LineString, Polygon, MultiPoint, MultiLineString, MultiPolygon, GeometryCollection; got 'Circle'"),
        ({"loc": {"$geoIntersects": {"$box": [[0, 0], [1, 1]]}}}, "$geoIntersects needs {$geometry: <GeoJSON>}"),
        (
            {"loc": {"$nearSphere": point(0, 0)}},
            "$nearSphere sorts by distance with a database server's geospatial index and is not supported in a stream;"
            " to filter by distance use $geoWithin with $centerSphere",
        ),
    ],
)
def test_geospatial_errors(query: dict, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        compile_query(query)
    assert caught.value.message == message


def test_match_and_validate_filter_by_location() -> None:
    docs = [{"_id": 1, "loc": point(5, 5)}, {"_id": 2, "loc": point(50, 50)}, {"_id": 3, "loc": [5, 5]}]
    area = within({"$geometry": SQUARE})
    matched = run_pipeline(with_documents(docs, [{"$match": area}])).docs
    validated = run_pipeline(with_documents(docs, [{"$validate": {"validator": area}}])).docs
    assert [doc["_id"] for doc in matched] == [doc["_id"] for doc in validated] == [1, 3]
