"""Plate normalisation, query validation and matching. Pure.

Storage scheme (see store.py): every read keeps its normalised plate and a
*confusion-folded* copy in which each character OCR commonly confuses is replaced by
one representative (O->0, I->1, B->8, S->5, Z->2). Both columns carry a B-tree index,
so on SQLite and PostgreSQL alike:

* exact   = equality on ``plate``;
* prefix  = a range ``prefix <= plate < prefix'`` (C collation on PostgreSQL);
* wildcard = the literal prefix before the first wildcard as a range, then a regular
  expression on the candidates (patterns are bounded, see ``parse_pattern``);
* fuzzy   = ``plate_folded IN`` the query's folded one-edit neighbourhood (every
  string within one insertion, deletion or substitution: a few hundred keys, all
  index look-ups); for 2 or 3 edits, the time-bounded rows are scanned and checked
  with ``distance`` (bounded by a row cap).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from rtcc.core.errors import InvalidArgument

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
CONFUSIONS = {"O": "0", "I": "1", "B": "8", "S": "5", "Z": "2"}
_FOLD = str.maketrans(CONFUSIONS)
FOLDED_ALPHABET = "".join(sorted(set(ALPHABET.translate(_FOLD))))
MAX_PLATE_LENGTH = 12
MAX_STARS = 2
MIN_LITERALS = 2
_SEPARATORS = re.compile(r"[\s\-·.]")


class MatchMode(enum.StrEnum):
    EXACT = "exact"
    PREFIX = "prefix"
    WILDCARD = "wildcard"
    FUZZY = "fuzzy"


def normalise(text: str, *, field: str = "query", wildcards: bool = False) -> str:
    """Upper case without spaces, dashes or dots; anything but A-Z 0-9 is refused."""
    plate = _SEPARATORS.sub("", text).upper()
    allowed = ALPHABET + ("?*" if wildcards else "")
    bad = sorted({c for c in plate if c not in allowed})
    if bad:
        shown = "".join(bad)[:10]
        extra = ", ? and *" if wildcards else ""
        raise InvalidArgument(
            f"a plate may contain only letters A-Z and digits 0-9{extra}; got {shown!r}",
            field=field,
        )
    if not plate:
        raise InvalidArgument("the plate query is empty", field=field)
    if len(plate) > MAX_PLATE_LENGTH:
        raise InvalidArgument(
            f"a plate query is at most {MAX_PLATE_LENGTH} characters, got {len(plate)}",
            field=field,
        )
    return plate


def fold(plate: str) -> str:
    """The plate with OCR-confusable characters replaced by one representative each."""
    return plate.translate(_FOLD)


def prefix_upper_bound(prefix: str) -> str:
    """The least string greater than every string starting with ``prefix`` (ASCII order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


@dataclass(frozen=True)
class Pattern:
    """A validated wildcard pattern: ``?`` one character, ``*`` any run."""

    text: str
    literal_prefix: str
    regex: re.Pattern[str]


def parse_pattern(text: str) -> Pattern:
    """Validate a wildcard pattern, refusing ones that would scan everything.

    Bounded: at most 12 characters, at most two ``*``, at least two literal
    characters, and no ``**``; so matching is linear and every query names something.
    """
    pattern = normalise(text, wildcards=True)
    stars = pattern.count("*")
    literals = sum(c in ALPHABET for c in pattern)
    if stars > MAX_STARS or "**" in pattern:
        raise InvalidArgument(
            f"a plate pattern may hold at most {MAX_STARS} '*', never two in a row", field="query"
        )
    if literals < MIN_LITERALS:
        raise InvalidArgument(
            f"a plate pattern needs at least {MIN_LITERALS} letters or digits", field="query"
        )
    body = "".join("." if c == "?" else ".*" if c == "*" else c for c in pattern)
    prefix = re.split(r"[?*]", pattern, maxsplit=1)[0]
    return Pattern(pattern, prefix, re.compile(f"^{body}$"))


def one_edit_neighbourhood(folded: str) -> set[str]:
    """Every folded string within one edit of ``folded`` (itself included)."""
    out = {folded}
    for i in range(len(folded) + 1):
        for c in FOLDED_ALPHABET:
            out.add(folded[:i] + c + folded[i:])
        if i < len(folded):
            out.add(folded[:i] + folded[i + 1 :])
            for c in FOLDED_ALPHABET:
                out.add(folded[:i] + c + folded[i + 1 :])
    out.discard("")
    return out


def distance(a: str, b: str, *, confusion_cost: float = 0.25, limit: float = 3.0) -> float:
    """Levenshtein distance where swapping OCR-confusable characters costs less.

    Returns a value above ``limit`` as soon as it is certain to exceed it.
    """
    previous = [float(j) for j in range(len(b) + 1)]
    for i, ca in enumerate(a, 1):
        current = [float(i)]
        for j, cb in enumerate(b, 1):
            if ca == cb:
                cost = 0.0
            elif fold(ca) == fold(cb):
                cost = confusion_cost
            else:
                cost = 1.0
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost))
        if min(current) > limit:
            return limit + 1
        previous = current
    return previous[-1]


def edits(a: str, b: str) -> int:
    """Whole edits between two plates once confusable characters are folded."""
    return int(distance(fold(a), fold(b), limit=MAX_PLATE_LENGTH))


def score(query: str, plate: str, confidences: Sequence[float], confidence: float) -> float:
    """How well a read matches, 0 to 1: closeness to the query, weighted by OCR certainty.

    Certainty is the mean per-character confidence (the whole read's when none), so
    one doubtful character costs less than a character that plainly differs.
    """
    closeness = max(0.0, 1.0 - distance(query, plate, limit=MAX_PLATE_LENGTH) / len(query))
    certainty = sum(confidences) / len(confidences) if confidences else confidence
    return round(closeness * (0.5 + 0.5 * max(0.0, min(1.0, certainty))), 6)
