"""graphml.format: the dialect's facts and its value conversions."""

from __future__ import annotations

import math

import pytest

from modelexport.graphml import format as fmt


def test_key_ids_are_unique_nmtokens_with_graphml_types() -> None:
    assert len(fmt.KEYS) == len(fmt.KEYS_BY_NAME)
    for key in fmt.KEYS.values():
        assert fmt.is_nmtoken(key.id) and fmt.is_nmtoken(key.name)
        assert fmt.graphml_type(key.type) in fmt.ATTR_TYPES
        assert key.domain in ("graph", "node", "edge")


def test_no_key_is_declared_long_which_yed_refuses_with_a_dialog() -> None:
    declared = {fmt.graphml_type(key.type) for key in fmt.KEYS.values()}
    assert "long" not in declared
    assert fmt.KEYS["offset"].type == fmt.INT64 and fmt.graphml_type(fmt.INT64) == "string"


@pytest.mark.parametrize("value", [0, 2**63 - 1, -(2**63), 2**53 + 1])
def test_int64_values_are_exact_decimal_text(value: int) -> None:
    text = fmt.format_value(fmt.INT64, value)
    assert text == str(value)
    back = fmt.parse_value(fmt.INT64, text)
    assert back == value and type(back) is int


@pytest.mark.parametrize("text", ["2**63", "9223372036854775808", "+5", "1_0", "1.0", "", "0x10"])
def test_int64_text_that_is_not_a_64_bit_decimal_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        fmt.parse_value(fmt.INT64, text)


@pytest.mark.parametrize("text, ok", [
    ("n1", True), ("m0:", True), ("a.b-c_d", True), ("1abc", True), ("é", True),
    ("/layer1/Conv", False), ("a b", False), ("", False), ("a,b", False),
])
def test_nmtokens_follow_xml(text: str, ok: bool) -> None:
    assert fmt.is_nmtoken(text) is ok


@pytest.mark.parametrize("attr_type, value", [
    ("boolean", True), ("boolean", False), ("int", -(2**31)), ("long", 2**63 - 1),
    ("double", 0.1), ("double", -0.0), ("double", 1e308), ("float", math.inf),
    ("float", -math.inf), ("string", " a\nb "),
])
def test_values_survive_format_then_parse(attr_type: str, value) -> None:
    back = fmt.parse_value(attr_type, fmt.format_value(attr_type, value))
    assert back == value and type(back) is type(value)


def test_nan_is_written_as_xsd_spells_it() -> None:
    assert fmt.format_value("double", math.nan) == "NaN"
    assert math.isnan(fmt.parse_value("double", "NaN"))


@pytest.mark.parametrize("attr_type, text", [
    ("int", "2147483648"), ("int", "1.5"), ("long", "1_000"), ("boolean", "yes"),
    ("double", "inf"), ("double", "abc"), ("text", "x"),
])
def test_text_not_of_the_type_is_refused(attr_type: str, text: str) -> None:
    with pytest.raises(ValueError):
        fmt.parse_value(attr_type, text)


@pytest.mark.parametrize("attr_type, value", [
    ("int", True), ("int", 1.0), ("string", 3), ("boolean", 1), ("double", "1"),
])
def test_python_values_of_the_wrong_type_are_refused(attr_type: str, value) -> None:
    with pytest.raises(ValueError):
        fmt.format_value(attr_type, value)


@pytest.mark.parametrize("dtype, dims, nbytes", [
    ("FLOAT", [2, 3], 24), ("BOOL", [], 1), ("INT4", [3], 2), ("FLOAT16", [0, 5], 0),
    ("STRING", [2], None), ("NOPE", [1], None),
])
def test_expected_nbytes(dtype: str, dims: list[int], nbytes) -> None:
    assert fmt.expected_nbytes(dtype, dims) == nbytes
