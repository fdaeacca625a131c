"""Camera inventories as files: CSV and GeoJSON import parsing and export. Pure.

Parsing never raises for a bad row: every row comes back with either a camera or the
column at fault and why, so an import can report each rejected row. Problems with the
file as a whole (not UTF-8, unknown columns, too many rows) raise InvalidArgument.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from rtcc.core.errors import InvalidArgument
from rtcc.registry import validation
from rtcc.registry.v1 import registry_pb2 as pb

MAX_BYTES = 8 * 1024 * 1024
MAX_ROWS = 50_000
COLUMNS = (
    "external_id",
    "display_name",
    "latitude",
    "longitude",
    "address",
    "heading_degrees",
    "angle_degrees",
    "range_meters",
    "main_url",
    "sub_url",
    "username",
    "password",
    "vendor",
    "model",
    "tags",
    "recording_mode",
    "retention_days",
)
EXPORT_COLUMNS = tuple(c for c in COLUMNS if c not in ("username", "password"))
REQUIRED = ("display_name", "latitude", "longitude")
_FOV = ("heading_degrees", "angle_degrees", "range_meters")
_MODES = {
    "": pb.RECORDING_MODE_UNSPECIFIED,
    "off": pb.RECORDING_MODE_OFF,
    "continuous": pb.RECORDING_MODE_CONTINUOUS,
    "event_only": pb.RECORDING_MODE_EVENT_ONLY,
}
_MODE_NAMES = {v: k for k, v in _MODES.items()}
# Validation paths that do not end in their column's name.
_PATH_COLUMNS = {
    "camera.location": "latitude",
    "camera.streams.credentials.username": "username",
    "camera.streams.credentials.password": "password",
    "camera.recording_policy.mode": "recording_mode",
}


@dataclass(frozen=True)
class InventoryRow:
    """One parsed row: a camera to create, or the column at fault and why."""

    row: int
    camera: pb.Camera | None
    field: str = ""
    message: str = ""
    external_id: str = ""


class _RowError(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column
        self.message = message


def parse(
    content: bytes, fmt: pb.InventoryFormat.ValueType, organization_id: str
) -> list[InventoryRow]:
    """Parse an inventory file into rows for ``organization_id``."""
    if len(content) > MAX_BYTES:
        raise InvalidArgument(f"content is larger than {MAX_BYTES} bytes", field="content")
    try:
        textual = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(f"content is not UTF-8: {exc}", field="content") from None
    if fmt == pb.INVENTORY_FORMAT_CSV:
        records = _csv_records(textual)
    elif fmt == pb.INVENTORY_FORMAT_GEOJSON:
        records = _geojson_records(textual)
    else:
        raise InvalidArgument("format must be CSV or GEOJSON", field="format")
    rows = [_row(i, record, organization_id) for i, record in enumerate(records, start=1)]
    return _reject_duplicates(rows)


def _csv_records(textual: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(textual, newline=""))
    header = [h.strip() for h in reader.fieldnames or ()]
    _check_columns(header, "CSV header")
    reader.fieldnames = header
    records: list[dict[str, Any]] = []
    for record in reader:
        if len(records) >= MAX_ROWS:
            raise InvalidArgument(f"content has more than {MAX_ROWS} rows", field="content")
        if None in record:
            records.append({"__error__": "the row has more cells than the header"})
            continue
        records.append({k: (v or "").strip() for k, v in record.items()})
    return records


def _geojson_records(textual: str) -> list[dict[str, Any]]:
    try:
        document = json.loads(textual)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"content is not JSON: {exc}", field="content") from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InvalidArgument("content must be a GeoJSON FeatureCollection", field="content")
    features = document.get("features")
    if not isinstance(features, list) or len(features) > MAX_ROWS:
        raise InvalidArgument(f"features must be a list of at most {MAX_ROWS}", field="content")
    names = {k for f in features if isinstance(f, dict) for k in (f.get("properties") or {})}
    _check_columns(sorted(names), "GeoJSON properties", geojson=True)
    return [_feature_record(f) for f in features]


def _feature_record(feature: Any) -> dict[str, Any]:
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        return {"__error__": "not a GeoJSON Feature"}
    geometry = feature.get("geometry") or {}
    coords = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if geometry.get("type") != "Point" or not isinstance(coords, list) or len(coords) < 2:
        return {
            "__error__": "geometry must be a Point [longitude, latitude]",
            "__field__": "geometry",
        }
    record = dict(feature.get("properties") or {})
    record["longitude"], record["latitude"] = coords[0], coords[1]
    return record


def _check_columns(names: Iterable[str], where: str, *, geojson: bool = False) -> None:
    known = set(COLUMNS) - ({"latitude", "longitude"} if geojson else set())
    present = list(names)
    unknown = [n for n in present if n not in known]
    if unknown:
        raise InvalidArgument(
            f"{where} has unknown columns {', '.join(unknown)}; known: {', '.join(sorted(known))}",
            field="content",
        )
    missing = [n for n in REQUIRED if n not in present]
    if missing and not geojson:  # a GeoJSON feature's location is its geometry
        raise InvalidArgument(f"{where} lacks the columns {', '.join(missing)}", field="content")


def _row(number: int, record: Mapping[str, Any], organization_id: str) -> InventoryRow:
    external_id = str(record.get("external_id") or "")
    if "__error__" in record:
        column = str(record.get("__field__", ""))
        return InventoryRow(number, None, column, str(record["__error__"]), external_id)
    try:
        camera = _camera(record, organization_id)
        validation.camera(camera)
    except _RowError as exc:
        return InventoryRow(number, None, exc.column, exc.message, external_id)
    except InvalidArgument as exc:
        column = _column_of(exc.field or "")
        return InventoryRow(number, None, column, exc.message, external_id)
    return InventoryRow(number, camera, external_id=external_id)


def _column_of(path: str) -> str:
    if path in _PATH_COLUMNS:
        return _PATH_COLUMNS[path]
    return re.sub(r"\[\d+\]$", "", path.rsplit(".", 1)[-1])


def _number(record: Mapping[str, Any], column: str) -> float | None:
    value = record.get(column)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _RowError(column, f"{column} must be a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _RowError(column, f"{column} must be a number, got {value!r}") from None


def _text(record: Mapping[str, Any], column: str) -> str:
    value = record.get(column)
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise _RowError(column, f"{column} must be text")
    return str(value).strip()


def _camera(record: Mapping[str, Any], organization_id: str) -> pb.Camera:
    camera = pb.Camera(organization_id=organization_id)
    for column in ("external_id", "display_name", "address", "vendor", "model"):
        setattr(camera, column, _text(record, column))
    latitude, longitude = _number(record, "latitude"), _number(record, "longitude")
    if latitude is None or longitude is None:
        raise _RowError("latitude" if latitude is None else "longitude", "location is required")
    camera.location.latitude, camera.location.longitude = latitude, longitude
    fov = [_number(record, c) for c in _FOV]
    if any(v is not None for v in fov):
        missing = [c for c, v in zip(_FOV, fov, strict=True) if v is None]
        if missing:
            raise _RowError(missing[0], f"{missing[0]} is required with the other view columns")
        camera.field_of_view.heading_degrees = fov[0] or 0.0
        camera.field_of_view.angle_degrees = fov[1] or 0.0
        camera.field_of_view.range_meters = fov[2] or 0.0
    camera.streams.main_url = _text(record, "main_url")
    camera.streams.sub_url = _text(record, "sub_url")
    username, password = _text(record, "username"), _text(record, "password")
    if username or password:
        camera.streams.credentials.username = username
        camera.streams.credentials.password = password
    camera.tags.extend(_tags(record.get("tags")))
    _recording(record, camera.recording_policy)
    return camera


def _tags(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [t for t in (part.strip() for part in value.split(";")) if t]
    raise _RowError("tags", "tags must be text separated by ';' or a list")


def _recording(record: Mapping[str, Any], policy: pb.RecordingPolicy) -> None:
    mode = _text(record, "recording_mode").lower().replace("-", "_")
    if mode not in _MODES:
        raise _RowError("recording_mode", "recording_mode must be off, continuous or event_only")
    policy.mode = _MODES[mode]
    days = _number(record, "retention_days")
    if days is not None:
        if not days.is_integer():
            raise _RowError("retention_days", "retention_days must be a whole number")
        if not 0 <= days <= validation.MAX_RETENTION_DAYS:
            raise _RowError("retention_days", "retention_days must be 0 to 3650")
        policy.retention_days = int(days)


def _reject_duplicates(rows: list[InventoryRow]) -> list[InventoryRow]:
    """Reject rows repeating an earlier row's external_id or main stream URL."""
    seen: dict[tuple[str, str], int] = {}
    out: list[InventoryRow] = []
    for row in rows:
        if row.camera is not None:
            keys = [
                ("external_id", row.camera.external_id),
                ("main_url", row.camera.streams.main_url),
            ]
            clash = next((k for k in keys if k[1] and k in seen), None)
            if clash is not None:
                message = f"{clash[0]} {clash[1]!r} repeats row {seen[clash]}"
                row = InventoryRow(row.row, None, clash[0], message, row.external_id)
            else:
                for key in keys:
                    if key[1]:
                        seen[key] = row.row
        out.append(row)
    return out


# ---- export --------------------------------------------------------------------------


def _export_record(camera: pb.Camera) -> dict[str, Any]:
    fov = camera.field_of_view if camera.HasField("field_of_view") else None
    return {
        "external_id": camera.external_id,
        "display_name": camera.display_name,
        "latitude": camera.location.latitude,
        "longitude": camera.location.longitude,
        "address": camera.address,
        "heading_degrees": fov.heading_degrees if fov else "",
        "angle_degrees": fov.angle_degrees if fov else "",
        "range_meters": fov.range_meters if fov else "",
        "main_url": camera.streams.main_url,
        "sub_url": camera.streams.sub_url,
        "vendor": camera.vendor,
        "model": camera.model,
        "tags": ";".join(camera.tags),
        "recording_mode": _MODE_NAMES.get(camera.recording_policy.mode, ""),
        "retention_days": camera.recording_policy.retention_days or "",
    }


def export(cameras: Iterable[pb.Camera], fmt: pb.InventoryFormat.ValueType) -> tuple[bytes, str]:
    """The cameras as a file ImportCameras accepts, and its media type. No credentials."""
    records = [_export_record(c) for c in cameras]
    if fmt == pb.INVENTORY_FORMAT_CSV:
        buffer = io.StringIO(newline="")
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return buffer.getvalue().encode("utf-8"), "text/csv"
    if fmt == pb.INVENTORY_FORMAT_GEOJSON:
        features = []
        for record in records:
            lon, lat = record.pop("longitude"), record.pop("latitude")
            properties = {k: v for k, v in record.items() if v not in ("", None)}
            if properties.get("tags"):
                properties["tags"] = str(properties["tags"]).split(";")
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": properties,
                }
            )
        document = {"type": "FeatureCollection", "features": features}
        return json.dumps(document, indent=1).encode("utf-8"), "application/geo+json"
    raise InvalidArgument("format must be CSV or GEOJSON", field="format")
