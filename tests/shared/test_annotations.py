"""The rules of a write's reference and metadata (``shared.annotations``), each at its boundary."""

from __future__ import annotations

import pytest

from shared.annotations import (
    METADATA_KEY_MAX,
    METADATA_MAX_KEYS,
    METADATA_VALUE_MAX,
    REFERENCE_MAX,
    Annotations,
    InvalidAnnotation,
    identity_of,
    metadata_of,
    reference_of,
    stored_metadata,
)


@pytest.mark.parametrize("value", ["a", "x" * REFERENCE_MAX, "order 5521/β"])
def test_a_reference_of_1_to_128_printable_characters_is_kept(value: str) -> None:
    assert reference_of(value) == value


@pytest.mark.parametrize("value", ["", "x" * (REFERENCE_MAX + 1), "tab\there", "line\n", 5521, ["a"]])
def test_any_other_reference_is_refused_naming_the_rule(value: object) -> None:
    with pytest.raises(InvalidAnnotation, match="reference must be a string of 1 to 128 printable characters"):
        reference_of(value)


def test_metadata_at_every_limit_is_kept() -> None:
    full = {f"{i:0{METADATA_KEY_MAX}d}": "v" * METADATA_VALUE_MAX for i in range(METADATA_MAX_KEYS)}
    assert metadata_of(full) == full
    assert metadata_of({"empty": ""}) == {"empty": ""}


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        (["a"], "metadata must be a JSON object"),
        ("a=b", "metadata must be a JSON object"),
        ({str(i): "v" for i in range(METADATA_MAX_KEYS + 1)}, "metadata may have at most 50 keys"),
        ({"k" * (METADATA_KEY_MAX + 1): "v"}, "metadata keys must be 1 to 40 characters, without square brackets"),
        ({"": "v"}, "metadata keys must be 1 to 40 characters"),
        ({"a[b]": "v"}, "without square brackets"),
        ({"k": "v" * (METADATA_VALUE_MAX + 1)}, "metadata values must be strings of at most 500 characters"),
        ({"k": 1}, "metadata values must be strings"),
        ({"k": None}, "metadata values must be strings"),
        ({"k": {"nested": "no"}}, "metadata values must be strings"),
        ({"k": "a\x00b"}, "may not contain the NUL character"),
        ({"a\x00": "v"}, "may not contain the NUL character"),
    ],
)
def test_metadata_breaking_a_rule_is_refused_naming_it(value: object, rule: str) -> None:
    with pytest.raises(InvalidAnnotation, match=rule.replace("[", r"\[")):
        metadata_of(value)


def test_none_and_an_empty_object_are_no_metadata() -> None:
    assert metadata_of(None) is None
    assert metadata_of({}) is None
    assert Annotations.from_json({}) == Annotations()


def test_stored_metadata_reads_a_mapping_or_json_text() -> None:
    assert stored_metadata('{"a":"b"}') == stored_metadata({"a": "b"}) == {"a": "b"}
    assert stored_metadata(None) is None


def test_the_identity_is_empty_without_them_and_ignores_key_order() -> None:
    assert identity_of(None, None) == ""
    assert identity_of("r", {"a": "1", "b": "2"}) == identity_of("r", {"b": "2", "a": "1"})
    assert identity_of("r", None) != identity_of("r2", None)
    assert identity_of(None, {"a": "1"}) != identity_of(None, {"a": "2"})
    # A reference that looks like the metadata part is still another request.
    assert identity_of('x|meta={"a":"1"}', None) != identity_of("x", {"a": "1"})
