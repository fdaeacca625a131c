"""The object store contract, proven on the file store and on a real MinIO."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import tempfile
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from rtcc.backends.objectstore import ObjectStore, verify_presigned
from rtcc.backends.objectstore_file import FileObjectStore
from rtcc.core.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _bucket(store: ObjectStore, *, object_lock: bool = False) -> str:
    name = f"t-{uuid.uuid4().hex[:16]}"
    await store.ensure_bucket(name, object_lock=object_lock)
    return name


async def _keys(store: ObjectStore, bucket: str, prefix: str = "", start_after: str = "") -> list:
    return [info.key async for info in store.list(bucket, prefix, start_after)]


async def test_put_then_get_stat_and_byte_ranges(object_store: ObjectStore) -> None:
    bucket = await _bucket(object_store)
    data = bytes(range(256)) * 40
    put = await object_store.put(
        bucket,
        "cam_1/2026/seg.mp4",
        data,
        content_type="video/mp4",
        metadata={"Camera-Id": "cam_1"},
    )
    stat = await object_store.stat(bucket, "cam_1/2026/seg.mp4")
    assert put == stat
    assert stat.size == len(data)
    assert stat.etag == hashlib.md5(data).hexdigest()
    assert stat.content_type == "video/mp4"
    assert stat.metadata == {"camera-id": "cam_1"}
    assert abs(stat.last_modified - _now()) < dt.timedelta(minutes=1)
    assert await object_store.get(bucket, "cam_1/2026/seg.mp4") == data
    assert await object_store.get_range(bucket, "cam_1/2026/seg.mp4", 10, 19) == data[10:20]
    tail = await object_store.get_range(bucket, "cam_1/2026/seg.mp4", len(data) - 5, len(data) + 99)
    assert tail == data[-5:]
    with pytest.raises(InvalidArgument):
        await object_store.get_range(bucket, "cam_1/2026/seg.mp4", len(data), len(data) + 10)
    with pytest.raises(InvalidArgument):
        await object_store.get_range(bucket, "cam_1/2026/seg.mp4", 5, 4)


async def test_put_file_stores_a_local_file(object_store: ObjectStore, tmp_path: Path) -> None:
    bucket = await _bucket(object_store)
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"\x00\x01clip" * 300_000)
    assert (
        await object_store.put_file(bucket, "clips/c.mp4", source, content_type="video/mp4") is None
    )
    info = await object_store.stat(bucket, "clips/c.mp4")
    assert info.size == source.stat().st_size and info.content_type == "video/mp4"
    assert info.etag == hashlib.md5(source.read_bytes()).hexdigest()
    assert await object_store.get(bucket, "clips/c.mp4") == source.read_bytes()


async def test_overwrite_replaces_content_and_metadata(object_store: ObjectStore) -> None:
    bucket = await _bucket(object_store)
    await object_store.put(bucket, "k", b"one", metadata={"v": "1"})
    await object_store.put(bucket, "k", b"two!", metadata={"v": "2"})
    assert await object_store.get(bucket, "k") == b"two!"
    assert (await object_store.stat(bucket, "k")).metadata == {"v": "2"}


async def test_list_is_sorted_by_key_and_honours_prefix_and_start_after(
    object_store: ObjectStore,
) -> None:
    bucket = await _bucket(object_store)
    keys = ["a/2", "a/10", "a-x", "a/1", "b/1", "a/sub/z", "ab"]
    for key in keys:
        await object_store.put(bucket, key, key.encode())
    assert await _keys(object_store, bucket) == sorted(keys)
    assert await _keys(object_store, bucket, "a/") == ["a/1", "a/10", "a/2", "a/sub/z"]
    assert await _keys(object_store, bucket, "a/", "a/10") == ["a/2", "a/sub/z"]
    assert await _keys(object_store, bucket, "a") == ["a-x", "a/1", "a/10", "a/2", "a/sub/z", "ab"]
    assert await _keys(object_store, bucket, "", "a/sub/z") == ["ab", "b/1"]
    assert await _keys(object_store, bucket, "nothing/") == []
    listed = [info async for info in object_store.list(bucket, "b/")]
    assert [(i.key, i.size) for i in listed] == [("b/1", 3)]
    assert listed[0].etag == hashlib.md5(b"b/1").hexdigest()


async def test_missing_objects_and_buckets_are_not_found(object_store: ObjectStore) -> None:
    bucket = await _bucket(object_store)
    for call in (
        object_store.get(bucket, "missing"),
        object_store.stat(bucket, "missing"),
        object_store.get_range(bucket, "missing", 0, 1),
        object_store.put("t-no-such-bucket-here", "k", b"x"),
        object_store.get("t-no-such-bucket-here", "k"),
    ):
        with pytest.raises(NotFound):
            await call


async def test_delete_removes_the_object_and_tolerates_absence(object_store: ObjectStore) -> None:
    bucket = await _bucket(object_store)
    await object_store.put(bucket, "dir/k", b"x")
    await object_store.delete(bucket, "dir/k")
    await object_store.delete(bucket, "dir/k")
    with pytest.raises(NotFound):
        await object_store.get(bucket, "dir/k")
    assert await _keys(object_store, bucket) == []


async def test_invalid_names_and_metadata_are_refused(object_store: ObjectStore) -> None:
    bucket = await _bucket(object_store)
    with pytest.raises(InvalidArgument):
        await object_store.ensure_bucket("Bad_Bucket")
    for key in ("../escape", "a//b", "/abs", "a/./b", ""):
        with pytest.raises(InvalidArgument):
            await object_store.put(bucket, key, b"x")
    with pytest.raises(InvalidArgument):
        await object_store.put(bucket, "k", b"x", metadata={"note": "caf\u00e9"})
    with pytest.raises(InvalidArgument):
        await _keys(object_store, bucket, "../")


async def test_every_keyed_method_refuses_keys_that_escape_the_bucket(
    object_store: ObjectStore, tmp_path: Path
) -> None:
    """``../`` (and empty or '.' parts) is refused by every method taking a key, before
    any file or request is touched: reads, ranges, retention and legal holds alike."""
    bucket = await _bucket(object_store, object_lock=True)
    until = _now() + dt.timedelta(days=1)
    for key in ("../escape", "a/../../b", "a//b", "./k", ""):
        calls = [
            object_store.get(bucket, key),
            object_store.get_range(bucket, key, 0, 9),
            object_store.stat(bucket, key),
            object_store.delete(bucket, key),
            object_store.presign_get(bucket, key, dt.timedelta(minutes=1)),
            object_store.set_retention(bucket, key, "GOVERNANCE", until),
            object_store.get_retention(bucket, key),
            object_store.set_legal_hold(bucket, key, True),
            object_store.get_legal_hold(bucket, key),
        ]
        for call in calls:
            with pytest.raises(InvalidArgument) as refused:
                await call
            assert refused.value.field == "key"
    assert await _keys(object_store, bucket) == []


async def test_presigned_link_downloads_and_tampered_or_expired_ones_fail(
    object_store: ObjectStore,
) -> None:
    bucket = await _bucket(object_store)
    await object_store.put(bucket, "evidence/clip 1.mp4", b"the clip")
    url = await object_store.presign_get(bucket, "evidence/clip 1.mp4", dt.timedelta(minutes=5))
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    short = await object_store.presign_get(bucket, "evidence/clip 1.mp4", dt.timedelta(seconds=1))
    with pytest.raises(InvalidArgument):
        await object_store.presign_get(bucket, "k", dt.timedelta(days=8))
    if isinstance(object_store, FileObjectStore):
        _check_file_links(object_store, url, tampered, short)
        return
    assert await _http_get(url) == (200, b"the clip")
    assert (await _http_get(tampered))[0] == 403

    # Wait on the condition (the link is refused), polling, for at most 10 s.
    for _ in range(50):
        if (await _http_get(short))[0] == 403:
            break
        await asyncio.sleep(0.2)
    else:
        pytest.fail("a link signed to expire after 1 s still worked 10 s later")


def _check_file_links(store: FileObjectStore, url: str, tampered: str, short: str) -> None:
    def verify(link: str, now: dt.datetime) -> None:
        parts = urlsplit(link)
        _, _, bucket, key = parts.path.split("/", 3)
        query = parse_qs(parts.query)
        verify_presigned(
            store.signing_key, bucket, unquote(key), query["expires"][0], query["signature"][0], now
        )

    verify(url, _now())
    with pytest.raises(PermissionDenied, match="signature"):
        verify(tampered, _now())
    with pytest.raises(PermissionDenied, match="signature"):
        verify(url.replace("clip%201", "clip%202"), _now())
    verify(short, _now())
    with pytest.raises(PermissionDenied, match="expired"):
        verify(short, _now() + dt.timedelta(seconds=2))


async def _http_get(url: str) -> tuple[int, bytes]:
    def fetch() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    return await asyncio.to_thread(fetch)


async def test_legal_hold_blocks_delete_and_overwrite_until_released(
    object_store: ObjectStore,
) -> None:
    bucket = await _bucket(object_store, object_lock=True)
    await object_store.put(bucket, "case/item", b"evidence")
    assert await object_store.get_legal_hold(bucket, "case/item") is False
    await object_store.set_legal_hold(bucket, "case/item", True)
    assert await object_store.get_legal_hold(bucket, "case/item") is True
    with pytest.raises(FailedPrecondition, match="legal hold"):
        await object_store.delete(bucket, "case/item")
    with pytest.raises(FailedPrecondition, match="legal hold"):
        await object_store.put(bucket, "case/item", b"tampered")
    assert await object_store.get(bucket, "case/item") == b"evidence"
    await object_store.set_legal_hold(bucket, "case/item", False)
    await object_store.delete(bucket, "case/item")
    with pytest.raises(NotFound):
        await object_store.stat(bucket, "case/item")
    assert await _keys(object_store, bucket) == []


async def test_compliance_retention_blocks_delete_and_can_only_be_extended(
    object_store: ObjectStore,
) -> None:
    bucket = await _bucket(object_store, object_lock=True)
    await object_store.put(bucket, "case/clip", b"evidence")
    assert await object_store.get_retention(bucket, "case/clip") is None
    until = (_now() + dt.timedelta(days=1)).replace(microsecond=0)
    await object_store.set_retention(bucket, "case/clip", "COMPLIANCE", until)
    retention = await object_store.get_retention(bucket, "case/clip")
    assert retention is not None and (retention.mode, retention.until) == ("COMPLIANCE", until)
    with pytest.raises(FailedPrecondition, match="retention"):
        await object_store.delete(bucket, "case/clip")
    with pytest.raises(FailedPrecondition, match="retention"):
        await object_store.put(bucket, "case/clip", b"tampered")
    with pytest.raises(FailedPrecondition, match="retention"):
        await object_store.set_retention(
            bucket, "case/clip", "COMPLIANCE", until - dt.timedelta(hours=1)
        )
    with pytest.raises(FailedPrecondition, match="retention"):
        await object_store.set_retention(bucket, "case/clip", "GOVERNANCE", until)
    later = until + dt.timedelta(days=1)
    await object_store.set_retention(bucket, "case/clip", "COMPLIANCE", later)
    retention = await object_store.get_retention(bucket, "case/clip")
    assert retention is not None and retention.until == later
    assert await object_store.get(bucket, "case/clip") == b"evidence"
    assert await _keys(object_store, bucket) == ["case/clip"]


async def test_governance_retention_cannot_be_shortened(object_store: ObjectStore) -> None:
    bucket = await _bucket(object_store, object_lock=True)
    await object_store.put(bucket, "k", b"x")
    until = _now() + dt.timedelta(days=2)
    await object_store.set_retention(bucket, "k", "GOVERNANCE", until)
    with pytest.raises(FailedPrecondition, match="retention"):
        await object_store.set_retention(bucket, "k", "GOVERNANCE", until - dt.timedelta(days=1))
    with pytest.raises(FailedPrecondition):
        await object_store.delete(bucket, "k")
    with pytest.raises(InvalidArgument):
        await object_store.set_retention(bucket, "k", "GOVERNANCE", _now() - dt.timedelta(days=1))


async def test_bucket_without_object_lock_refuses_locks_with_a_clear_sentence(
    object_store: ObjectStore,
) -> None:
    bucket = await _bucket(object_store)
    await object_store.put(bucket, "k", b"x")
    with pytest.raises(FailedPrecondition, match="without object lock"):
        await object_store.ensure_bucket(bucket, object_lock=True)
    with pytest.raises(FailedPrecondition, match="without object lock"):
        await object_store.set_legal_hold(bucket, "k", True)
    with pytest.raises(FailedPrecondition, match="without object lock"):
        await object_store.set_retention(bucket, "k", "COMPLIANCE", _now() + dt.timedelta(days=1))
    assert await object_store.get_retention(bucket, "k") is None
    assert await object_store.get_legal_hold(bucket, "k") is False
    await object_store.delete(bucket, "k")


async def test_lock_on_a_missing_object_is_not_found(object_store: ObjectStore) -> None:
    bucket = await _bucket(object_store, object_lock=True)
    with pytest.raises(NotFound):
        await object_store.set_legal_hold(bucket, "missing", True)
    with pytest.raises(NotFound):
        await object_store.get_retention(bucket, "missing")


async def test_lifecycle_rules_are_recorded_per_prefix(object_store: ObjectStore) -> None:
    bucket = await _bucket(object_store)
    assert await object_store.get_lifecycle(bucket) == {}
    await object_store.set_lifecycle(bucket, "recordings/", 30)
    await object_store.set_lifecycle(bucket, "snapshots/", 7)
    await object_store.set_lifecycle(bucket, "recordings/", 14)
    assert await object_store.get_lifecycle(bucket) == {"recordings/": 14, "snapshots/": 7}
    with pytest.raises(InvalidArgument):
        await object_store.set_lifecycle(bucket, "x/", 0)


async def test_file_store_expires_old_objects_but_not_locked_ones(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path)
    await store.ensure_bucket("media", object_lock=True)
    await store.set_lifecycle("media", "tmp/", 3)
    for key in ("tmp/a", "tmp/held", "keep/b"):
        await store.put("media", key, b"x")
    await store.set_legal_hold("media", "tmp/held", True)
    assert await store.expire(_now() + dt.timedelta(days=2)) == 0
    assert await store.expire(_now() + dt.timedelta(days=4)) == 1
    assert await _keys(store, "media") == ["keep/b", "tmp/held"]


async def test_file_store_state_survives_reopening(tmp_path: Path) -> None:
    first = FileObjectStore(tmp_path)
    await first.ensure_bucket("media", object_lock=True)
    await first.put("media", "k", b"kept", metadata={"m": "1"})
    await first.set_legal_hold("media", "k", True)
    second = FileObjectStore(tmp_path)
    assert (await second.stat("media", "k")).metadata == {"m": "1"}
    with pytest.raises(FailedPrecondition):
        await second.delete("media", "k")
    leftovers = await asyncio.to_thread(lambda: list(tmp_path.rglob("*.tmp")))
    assert leftovers == []


async def test_file_store_takes_a_read_only_file_by_hard_link(tmp_path: Path) -> None:
    store = FileObjectStore(tmp_path / "store")
    await store.ensure_bucket("media", object_lock=True)
    source = tmp_path / "spool.mp4"
    data = b"\x00\x01segment" * 200_000
    source.write_bytes(data)
    source.chmod(0o444)
    await store.put_file("media", "cam/seg.mp4", source, metadata={"sha256": "s"})
    stored = tmp_path / "store" / "media" / "cam" / "seg.mp4"
    assert stored.stat().st_ino == source.stat().st_ino
    # Not hashed when stored: the MD5 ETag is computed when asked for, by stat or list.
    info = await store.stat("media", "cam/seg.mp4")
    assert info.etag == hashlib.md5(data).hexdigest() and info.size == len(data)
    assert [i.etag async for i in store.list("media", "cam/")] == [info.etag]
    # A retried put of the same file (a crash before the spool forgot it) is harmless.
    await store.put_file("media", "cam/seg.mp4", source, metadata={"sha256": "s"})
    assert (await store.stat("media", "cam/seg.mp4")).etag == info.etag
    source.unlink()
    assert await store.get("media", "cam/seg.mp4") == data
    assert (await store.stat("media", "cam/seg.mp4")).metadata == {"sha256": "s"}
    await store.set_legal_hold("media", "cam/seg.mp4", True)
    with pytest.raises(FailedPrecondition):
        await store.put("media", "cam/seg.mp4", b"other")
    with pytest.raises(FailedPrecondition):
        await store.delete("media", "cam/seg.mp4")
    leftovers = await asyncio.to_thread(lambda: list((tmp_path / "store").rglob("*.tmp")))
    assert leftovers == []


async def test_file_store_copies_a_writable_file_or_one_on_another_filesystem(
    tmp_path: Path,
) -> None:
    store = FileObjectStore(tmp_path / "store")
    await store.ensure_bucket("media")
    writable = tmp_path / "draft.mp4"
    writable.write_bytes(b"first")
    await store.put_file("media", "draft.mp4", writable)
    writable.write_bytes(b"changed later")
    assert await store.get("media", "draft.mp4") == b"first"
    # /dev/shm is a tmpfs: another filesystem than tmp_path's, so no link is possible.
    with tempfile.TemporaryDirectory(dir="/dev/shm") as other:
        elsewhere = Path(other) / "seg.mp4"
        elsewhere.write_bytes(b"from another filesystem")
        elsewhere.chmod(0o444)
        await store.put_file("media", "seg.mp4", elsewhere)
        stored = tmp_path / "store" / "media" / "seg.mp4"
        assert stored.stat().st_dev != elsewhere.stat().st_dev
        info = await store.stat("media", "seg.mp4")
        assert info.etag == hashlib.md5(b"from another filesystem").hexdigest()
    assert await store.get("media", "seg.mp4") == b"from another filesystem"
