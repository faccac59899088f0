"""``$jsonSchema``: draft 4 JSON Schema through the ``jsonschema`` library, plus ``bsonType``.

MongoDB's dialect adds ``bsonType`` and leaves out ``$ref``, ``$schema``, ``default``,
``definitions``, ``format`` and ``id``.
https://www.mongodb.com/docs/manual/reference/operator/query/jsonSchema/
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

import jsonschema
from bson import Decimal128, Int64

from translator._bson_types import bson_type_name
from translator.errors import SpecError
from translator.query.compile import top_level_operator

UNSUPPORTED = ("$ref", "$schema", "default", "definitions", "format", "id")
NUMBER_TYPES = (int, float, Int64, Decimal128)


def _bson_type(validator: Any, wanted: Any, instance: Any, schema: dict) -> Any:
    names = wanted if type(wanted) is list else [wanted]
    actual = bson_type_name(instance)
    if actual in names or ("number" in names and actual in ("int", "long", "double", "decimal")):
        return
    yield jsonschema.ValidationError(f"{instance!r} is not of BSON type {' or '.join(names)}")


def _is_number(checker: Any, value: Any) -> bool:
    return type(value) is not bool and isinstance(value, NUMBER_TYPES)


def _is_integer(checker: Any, value: Any) -> bool:
    if type(value) is Decimal128:
        return value.to_decimal() == value.to_decimal().to_integral_value()
    return type(value) is not bool and (isinstance(value, int) or (type(value) is float and value.is_integer()))


_TYPES = jsonschema.Draft4Validator.TYPE_CHECKER.redefine_many({"number": _is_number, "integer": _is_integer})
MongoSchemaValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator, validators={"bsonType": _bson_type}, type_checker=_TYPES
)


def nested_keys(value: Any, at: tuple) -> Iterator[tuple[str, tuple]]:
    """Every object key inside ``value``, with its path: for spotting forbidden keywords."""
    if type(value) is dict:
        for key, item in value.items():
            yield key, (*at, key)
            yield from nested_keys(item, (*at, key))
    elif type(value) is list:
        for i, item in enumerate(value):
            yield from nested_keys(item, (*at, str(i)))


def _check_dialect(schema: Any, at: tuple) -> None:
    for key, where in nested_keys(schema, at):
        if key in UNSUPPORTED:
            msg = f"$jsonSchema keyword {key!r} is not supported by MongoDB"
            raise SpecError(msg, where)


def schema_validator(schema: Any, at: tuple) -> Any:
    """A compiled validator, with the schema checked once against draft 4."""
    if type(schema) is not dict:
        msg = "$jsonSchema needs an object"
        raise SpecError(msg, at)
    _check_dialect(schema, at)
    try:
        MongoSchemaValidator.check_schema(_without_bson_type(schema))
    except jsonschema.SchemaError as exc:
        msg = f"invalid $jsonSchema: {exc.message}"
        raise SpecError(msg, at) from None
    return MongoSchemaValidator(schema, format_checker=None)


def _without_bson_type(schema: Any) -> Any:
    """Draft 4's metaschema knows no ``bsonType``; check the rest of the schema against it."""
    if type(schema) is dict:
        return {k: _without_bson_type(v) for k, v in schema.items() if k != "bsonType"}
    if type(schema) is list:
        return [_without_bson_type(v) for v in schema]
    return schema


def first_violation(validator: Any, doc: dict) -> str | None:
    """Why ``doc`` fails the schema, for the DLQ record; None when it passes."""
    error = jsonschema.exceptions.best_match(validator.iter_errors(doc))
    if error is None:
        return None
    where = ".".join(str(part) for part in error.absolute_path)
    return f"{error.message} (at {where or 'the document'}, rule {error.validator})"


@top_level_operator("$jsonSchema")
def compile_json_schema(operand: Any, at: tuple) -> Callable[[dict], bool]:
    return schema_validator(operand, at).is_valid


