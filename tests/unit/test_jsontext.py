"""JSON text for stored records: orjson where it can, the standard library where it refuses,
and text encoded ahead of time passes through unchanged."""

from __future__ import annotations

import json

from qualification.jsontext import EncodedJson, dumps, loads


def test_values_encode_to_the_same_json_as_the_standard_library() -> None:
    value = {"name": "Clínica São José", "n": 3, "ok": True, "none": None, "list": [1, 2.5]}
    assert json.loads(dumps(value)) == json.loads(json.dumps(value)) == value
    assert dumps({1: "a"}) == '{"1":"a"}'  # keys become strings, as json.dumps makes them


def test_what_orjson_refuses_falls_back_to_the_standard_library() -> None:
    assert dumps({"big": 2**70}) == json.dumps({"big": 2**70})
    assert dumps("X \ud800 Y") == json.dumps("X \ud800 Y")  # a lone surrogate, escaped
    assert loads('{"a": NaN}')["a"] != loads('{"a": NaN}')["a"]  # read as json.loads reads it


def test_encoded_text_is_stored_as_it_is_not_as_a_string() -> None:
    text = EncodedJson('{"a":1}')
    assert dumps(text) == '{"a":1}' and type(dumps(text)) is str
    assert dumps('{"a":1}') == '"{\\"a\\":1}"'  # a plain string is a JSON string
