"""Hypothesis strategies for any protobuf message, generated from its descriptor.

Field values are drawn to hurt: huge and odd-unicode strings, path tricks, negative
and extreme numbers, NaN and infinities, out-of-range timestamps and enum values,
nested and repeated messages. `ids` mixes in real ids of the world, so generated
requests also reach past the "no such camera" checks.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

F = FieldDescriptor
MAX_DEPTH = 3
ODD = [
    "", " ", "../../etc/passwd", "..%2F..%2F", "%00", "\x00", "\u202e", "\ufeff", "🚓" * 3,
    "'; DROP TABLE cameras; --", "${jndi:ldap://x}", "<script>", "a" * 300, "*", "%",
    "_", "\\", "\n\r", "null", "-1", "1e309", "2026-13-45T99:99:99Z", "Z" * 40,
]  # fmt: skip
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
UINT32 = (0, 2**32 - 1)
UINT64 = (0, 2**64 - 1)


def _ints(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    extremes = [low, high, 0, -1, 1, 2**31 - 1] if low < 0 else [0, 1, high, 2**31 - 1]
    return st.one_of(
        st.sampled_from([e for e in extremes if low <= e <= high]),
        st.integers(low, high),
        st.integers(-5, 5000).filter(lambda v: low <= v <= high),
    )


def strings(ids: Sequence[str]) -> st.SearchStrategy[str]:
    huge = st.builds(
        lambda n, c: c * n,
        st.integers(1_000, 200_000),
        st.sampled_from(["a", "é", "🚓", "\u0301", "/", "%"]),
    )
    pool = [st.text(max_size=24), st.sampled_from(ODD), huge]
    if ids:
        pool.append(st.sampled_from(list(ids)))
        pool.append(st.sampled_from(list(ids)).map(lambda i: i + "x"))
    return st.one_of(*pool)


_SCALARS: dict[int, Any] = {
    F.TYPE_BOOL: st.booleans(),
    F.TYPE_DOUBLE: st.floats(allow_nan=True, allow_infinity=True),
    F.TYPE_FLOAT: st.floats(width=32, allow_nan=True, allow_infinity=True),
    F.TYPE_INT32: _ints(INT32),
    F.TYPE_SINT32: _ints(INT32),
    F.TYPE_SFIXED32: _ints(INT32),
    F.TYPE_INT64: _ints(INT64),
    F.TYPE_SINT64: _ints(INT64),
    F.TYPE_SFIXED64: _ints(INT64),
    F.TYPE_UINT32: _ints(UINT32),
    F.TYPE_FIXED32: _ints(UINT32),
    F.TYPE_UINT64: _ints(UINT64),
    F.TYPE_FIXED64: _ints(UINT64),
}


def _value(field: F, ids: Sequence[str], depth: int) -> st.SearchStrategy[Any]:
    if field.type == F.TYPE_MESSAGE:
        return messages(field.message_type, ids, depth + 1)
    if field.type == F.TYPE_ENUM:
        numbers = [v.number for v in field.enum_type.values]
        return st.one_of(st.sampled_from(numbers), _ints(INT32))
    if field.type == F.TYPE_STRING:
        return strings(ids)
    if field.type == F.TYPE_BYTES:
        return st.one_of(
            st.binary(max_size=64),
            st.sampled_from([b"", b"\x00" * 1024, b"\xff\xd8\xff", b"a,b\n" * 5000]),
        )
    return _SCALARS[field.type]


def messages(
    descriptor: Descriptor, ids: Sequence[str] = (), depth: int = 0
) -> st.SearchStrategy[Message]:
    """Messages of `descriptor` with any subset of fields set to drawn values."""
    cls = message_factory.GetMessageClass(descriptor)
    if depth > MAX_DEPTH:
        return st.just(cls())
    optional: dict[str, st.SearchStrategy[Any]] = {}
    for field in descriptor.fields:
        value = _value(field, ids, depth)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            key = _value(field.message_type.fields_by_name["key"], ids, depth)
            entry = _value(field.message_type.fields_by_name["value"], ids, depth)
            optional[field.name] = st.dictionaries(key, entry, max_size=3)
        elif field.is_repeated:
            optional[field.name] = st.lists(value, max_size=4)
        else:
            optional[field.name] = value
    return st.fixed_dictionaries({}, optional=optional).map(lambda v: _build(cls, v))


def _build(cls: Any, values: dict[str, Any]) -> Message:
    message = cls()
    for name, value in values.items():
        field = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            entry_is_message = field.message_type.fields_by_name["value"].message_type
            for key, item in value.items():
                if entry_is_message is not None:
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif field.is_repeated:
            if field.message_type is not None:
                for item in value:
                    target.add().CopyFrom(item)
            else:
                target.extend(value)
        elif field.message_type is not None:
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message
