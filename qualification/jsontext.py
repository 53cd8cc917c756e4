"""JSON text the one way every stored record and payload is encoded: orjson (a decision record
~10x faster than `json.dumps`), else the standard library for what orjson refuses (integers past
64 bits, lone surrogates), so any value encodes as it did before."""

from __future__ import annotations

import json
from typing import Any

import orjson


class EncodedJson(str):
    """JSON text already encoded (a decision record, encoded where it was evaluated): a JSON
    column stores it as it is instead of encoding a string."""

    __slots__ = ()


def dumps(value: Any) -> str:
    if isinstance(value, EncodedJson):
        return str(value)
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
