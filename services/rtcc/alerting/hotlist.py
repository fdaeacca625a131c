"""Hot lists (BOLO): delimited import and OCR-equivalent plate matching. Pure.

Import: ``PlateNumber;PlateState;Category;EffectiveDate;ExpiryDate`` per line (the
delimiter is configurable; a first line naming the columns is skipped). Every row
is checked before anything is applied: one bad row refuses the whole file and the
report names each bad row, so a list is never half imported.

Matching: OCR confuses some characters (0/O/D/Q, 1/I, 2/Z, 5/S, 8/B, 6/G). Each
entry is stored under its *folded* key, every character replaced by its class
representative; a read is folded the same way and looked up in one dict, so a check
costs one hash look-up whatever the list's size (1M plates: microseconds). The
candidates sharing the key differ only in confusable characters; their number of
substitutions is counted and capped per list (0 = exact only).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

CONFUSION_CLASSES = ("0ODQ", "1I", "2Z", "5S", "8B", "6G")
_FOLD = str.maketrans({c: group[0] for group in CONFUSION_CLASSES for c in group})
_PLATE = re.compile(r"^[A-Z0-9]{1,12}$")
_SEPARATORS = re.compile(r"[\s\-·.]")
HEADER_WORDS = ("platenumber", "plate")
MAX_ROWS = 2_000_000
MAX_SUBSTITUTIONS = 3
EXACT, OCR_EQUIVALENT = 1, 2


def normalise(plate: str) -> str:
    return _SEPARATORS.sub("", plate).upper()


def fold(plate: str) -> str:
    return plate.translate(_FOLD)


@dataclass(frozen=True, slots=True)
class Entry:
    plate: str
    plate_state: str
    category: str
    effective: dt.datetime | None
    expires: dt.datetime | None
    line: int

    def applies(self, when: dt.datetime) -> bool:
        if self.effective is not None and when < self.effective:
            return False
        return self.expires is None or when < self.expires


@dataclass(frozen=True, slots=True)
class RowError:
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class Match:
    entry: Entry
    match_type: int
    substitutions: int


def _date(value: str, name: str, *, end: bool) -> dt.datetime | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{name} {value[:30]!r} is not a date (YYYY-MM-DD)") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if end and len(value) == 10:
        parsed += dt.timedelta(days=1)  # an expiry date runs to the end of that day
    return parsed.astimezone(dt.UTC)


def parse(text: str, delimiter: str = ";") -> tuple[list[Entry], list[RowError]]:
    """All entries, or (when any row is bad) the errors; both lists never mix."""
    if len(delimiter) != 1 or delimiter.isalnum():
        return [], [RowError(0, "the delimiter must be one character, not a letter or digit")]
    entries: list[Entry] = []
    errors: list[RowError] = []
    seen: dict[tuple[str, str], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        cells = [c.strip() for c in line.split(delimiter)]
        if number == 1 and cells[0].replace(" ", "").lower() in HEADER_WORDS:
            continue
        if len(entries) + len(errors) >= MAX_ROWS:
            errors.append(RowError(number, f"a hot list holds at most {MAX_ROWS} rows"))
            break
        try:
            entry = _row(cells, number)
        except ValueError as exc:
            errors.append(RowError(number, str(exc)))
            continue
        key = (entry.plate, entry.plate_state)
        if key in seen:
            errors.append(
                RowError(number, f"plate {entry.plate} is listed twice (line {seen[key]})")
            )
            continue
        seen[key] = number
        entries.append(entry)
    return ([], errors) if errors else (entries, [])


def _row(cells: list[str], number: int) -> Entry:
    if len(cells) != 5:
        raise ValueError(
            f"expected 5 columns PlateNumber;PlateState;Category;EffectiveDate;ExpiryDate, "
            f"got {len(cells)}"
        )
    plate = normalise(cells[0])
    if not _PLATE.match(plate):
        raise ValueError(f"plate {cells[0][:20]!r} must be 1 to 12 letters A-Z and digits")
    effective = _date(cells[3], "EffectiveDate", end=False)
    expires = _date(cells[4], "ExpiryDate", end=True)
    if effective and expires and expires <= effective:
        raise ValueError("ExpiryDate is before EffectiveDate")
    return Entry(plate, cells[1].upper()[:8], cells[2][:60], effective, expires, number)


class HotlistIndex:
    """One list's entries keyed by folded plate: a read is checked with one look-up."""

    __slots__ = ("_by_key", "max_substitutions", "size")

    def __init__(self, entries: Iterable[Entry], max_substitutions: int = 1) -> None:
        self.max_substitutions = max(0, min(MAX_SUBSTITUTIONS, max_substitutions))
        self._by_key: dict[str, Entry | list[Entry]] = {}
        self.size = 0
        for entry in entries:
            key = fold(entry.plate)
            found = self._by_key.get(key)
            if found is None:
                self._by_key[key] = entry
            elif isinstance(found, list):
                found.append(entry)
            else:
                self._by_key[key] = [found, entry]
            self.size += 1

    def match(self, plate: str, when: dt.datetime, region: str = "") -> list[Match]:
        found = self._by_key.get(fold(plate))
        if found is None:
            return []
        candidates = found if isinstance(found, list) else (found,)
        return list(self._matches(candidates, plate, when, region))

    def _matches(
        self, candidates: Iterable[Entry], plate: str, when: dt.datetime, region: str
    ) -> Iterator[Match]:
        for entry in candidates:
            if region and entry.plate_state and region.upper() != entry.plate_state:
                continue
            if not entry.applies(when):
                continue
            subs = sum(1 for a, b in zip(plate, entry.plate, strict=True) if a != b)
            if subs == 0:
                yield Match(entry, EXACT, 0)
            elif subs <= self.max_substitutions:
                yield Match(entry, OCR_EQUIVALENT, subs)
