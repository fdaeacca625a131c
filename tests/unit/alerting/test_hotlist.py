"""Hot lists: delimited import with a per-row report; exact and OCR-equivalent matching."""

from __future__ import annotations

import datetime as dt
import time

from rtcc.alerting import hotlist as hl

NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def test_import_reads_rows_and_skips_the_header() -> None:
    text = (
        "PlateNumber;PlateState;Category;EffectiveDate;ExpiryDate\n"
        "ab-c 123;il;stolen;2026-01-01;2026-12-31\n"
        "XYZ9;;amber;;\n"
    )
    entries, errors = hl.parse(text)
    assert not errors
    assert [(e.plate, e.plate_state, e.category) for e in entries] == [
        ("ABC123", "IL", "stolen"),
        ("XYZ9", "", "amber"),
    ]
    assert entries[0].expires == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)  # end of the day


def test_one_bad_row_refuses_the_file_and_every_bad_row_is_reported() -> None:
    text = "ABC123;IL;stolen;;\nBAD PLATE!;IL;x;;\nDEF456;IL;x;soon;\nABC123;IL;dup;;\nOK1;IL;x\n"
    entries, errors = hl.parse(text)
    assert entries == []
    assert [e.line for e in errors] == [2, 3, 4, 5]
    assert "letters A-Z" in errors[0].message and "not a date" in errors[1].message
    assert "listed twice (line 1)" in errors[2].message and "5 columns" in errors[3].message


def test_the_delimiter_is_configurable() -> None:
    entries, errors = hl.parse("ABC123,IL,stolen,,\n", delimiter=",")
    assert not errors and entries[0].plate == "ABC123"
    assert hl.parse("x", delimiter="A")[1][0].message.startswith("the delimiter")


def index(*plates: str, subs: int = 2) -> hl.HotlistIndex:
    return hl.HotlistIndex(
        [hl.Entry(p, "", "stolen", None, None, i) for i, p in enumerate(plates)], subs
    )


def test_exact_and_ocr_equivalent_matches_with_a_cap_on_substitutions() -> None:
    idx = index("8OB5Z1", subs=2)
    (exact,) = idx.match("8OB5Z1", NOW)
    assert (exact.match_type, exact.substitutions) == (hl.EXACT, 0)
    (ocr,) = idx.match("80B5Z1", NOW)  # O read as 0
    assert (ocr.match_type, ocr.substitutions) == (hl.OCR_EQUIVALENT, 1)
    assert len(idx.match("B085ZI", NOW)) == 0  # 4 substitutions: over the cap
    assert idx.match("80B521", NOW)[0].substitutions == 2
    assert not index("8OB5Z1", subs=0).match("80B5Z1", NOW)  # exact only
    assert not idx.match("8OB5Z7", NOW)  # 7 is not confusable with 1


def test_every_confusion_class_folds_together() -> None:
    assert hl.fold("ODQ0") == "0000" and hl.fold("I1") == "11" and hl.fold("Z2S5B8G6") == "22558866"


def test_validity_window_and_state_are_respected() -> None:
    entry = hl.Entry("ABC123", "IL", "x", NOW, NOW + dt.timedelta(days=1), 1)
    idx = hl.HotlistIndex([entry], 1)
    assert idx.match("ABC123", NOW + dt.timedelta(hours=1), "IL")
    assert not idx.match("ABC123", NOW - dt.timedelta(hours=1))
    assert not idx.match("ABC123", NOW + dt.timedelta(days=2))
    assert not idx.match("ABC123", NOW, "WI")


def test_a_million_plates_are_checked_well_under_a_millisecond_per_read() -> None:
    plates = [f"{i:07d}"[::-1] for i in range(1_000_000)]  # distinct 7-char plates
    idx = hl.HotlistIndex((hl.Entry(p, "", "x", None, None, i) for i, p in enumerate(plates)), 1)
    assert idx.size == 1_000_000
    reads = [f"{i:07d}"[::-1] for i in range(0, 2_000_000, 97)]
    start = time.perf_counter()
    hits = sum(1 for r in reads if idx.match(r, NOW))
    per_read = (time.perf_counter() - start) / len(reads)
    assert hits > 0 and per_read < 0.001
