"""OSV sync against a real HTTP server on 127.0.0.1 serving a tiny fake osv.dev bucket."""

from __future__ import annotations

import email.utils
import hashlib
import json
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from meshward.errors import InputError, MeshwardError
from meshward.limits import Limits
from meshward.sync import OsvSync, SyncMode
from meshward.sync.osv_source import check_ecosystem, parse_modified, shown

# --------------------------------------------------------------------------- the fake bucket


def _record(rid: str, modified: str, eco: str = "PyPI", **extra: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "modified": modified,
        "affected": [{"package": {"ecosystem": eco, "name": "demo"}}],
        **extra,
    }


@dataclass
class Bucket:
    """Files the server serves, by URL path (decoded), plus switches to misbehave."""

    files: dict[str, bytes] = field(default_factory=dict)
    mtimes: dict[str, float] = field(default_factory=dict)
    records: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    fail: dict[str, int] = field(default_factory=dict)
    """path -> how many more times to answer 503."""
    retry_after: str | None = "0"
    redirects: dict[str, str] = field(default_factory=dict)
    no_length: bool = False
    truncate: dict[str, int] = field(default_factory=dict)
    """path -> how many more times to drop the connection halfway through the body."""
    log: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    """(decoded path, raw path, request headers) of every request."""
    clock: float = 1_700_000_000.0

    def put(self, eco: str, record: dict[str, Any]) -> None:
        self.records.setdefault(eco, {})[record["id"]] = record

    def publish(self, eco: str, *, csv: bool = True) -> None:
        """Write all.zip, modified_id.csv and the JSON files the way osv.dev's exporter does."""
        self.clock += 10
        records = self.records[eco]
        blobs = {rid: json.dumps(rec).encode() for rid, rec in records.items()}
        for rid, blob in blobs.items():
            self._set(f"/{eco}/{rid}.json", blob)
        import io

        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for rid in sorted(blobs):
                zf.writestr(f"{rid}.json", blobs[rid])
        self._set(f"/{eco}/all.zip", buf.getvalue())
        rows = sorted(((r["modified"], rid) for rid, r in records.items()), reverse=True)
        if csv:
            self._set(f"/{eco}/modified_id.csv", "".join(f"{m},{i}\n" for m, i in rows).encode())
        else:
            self.files.pop(f"/{eco}/modified_id.csv", None)

    def _set(self, path: str, data: bytes) -> None:
        if self.files.get(path) != data:
            self.files[path] = data
            self.mtimes[path] = self.clock

    def requests(self, suffix: str = "") -> list[str]:
        return [p for p, _, _ in self.log if p.endswith(suffix)]


class _Handler(BaseHTTPRequestHandler):
    bucket: Bucket

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        raw = urlsplit(self.path).path
        path = unquote(raw)
        b = self.bucket
        b.log.append((path, raw, {k.lower(): v for k, v in self.headers.items()}))
        if b.fail.get(path, 0) > 0:
            b.fail[path] -= 1
            self.send_response(503)
            if b.retry_after is not None:
                self.send_header("Retry-After", b.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path in b.redirects:
            self.send_response(302)
            self.send_header("Location", b.redirects[path])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = b.files.get(path)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        etag = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        last_modified = email.utils.formatdate(b.mtimes[path], usegmt=True)
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if (inm is not None and inm == etag) or (
            inm is None
            and ims is not None
            and email.utils.parsedate_to_datetime(ims).timestamp() >= b.mtimes[path]
        ):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", etag)
        self.send_header("Last-Modified", last_modified)
        if b.truncate.get(path, 0) > 0:
            b.truncate[path] -= 1
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        if b.no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def bucket() -> Bucket:
    b = Bucket()
    b.put("PyPI", _record("PYSEC-2024-1", "2024-01-01T00:00:00Z"))
    b.put("PyPI", _record("GHSA-aaaa-bbbb-cccc", "2024-02-01T10:00:00.123456789Z"))
    b.put("PyPI", _record("PYSEC-2024-3", "2024-02-01T10:00:00Z"))
    b.publish("PyPI")
    return b


@pytest.fixture
def server(bucket: Bucket) -> Iterator[str]:
    handler = type("Handler", (_Handler,), {"bucket": bucket})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def sleeps() -> list[float]:
    return []


_CLIENT: httpx.Client | None = None


def _shared_client() -> httpx.Client:
    """One client for the module: building one (its TLS context) costs ~0.1 s. It follows
    redirects on its own, to prove the sync still vets each one."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = httpx.Client(follow_redirects=True)
    return _CLIENT


def _sync(url: str, tmp_path: Path, sleeps: list[float], **kwargs: Any) -> OsvSync:
    kwargs.setdefault("client", _shared_client())
    kwargs.setdefault("backoff", 0.001)
    kwargs.setdefault("max_backoff", 0.01)
    kwargs.setdefault("timeout", 5)
    return OsvSync(url, tmp_path / "cache", sleep=sleeps.append, **kwargs)


@pytest.fixture
def osv(server: str, tmp_path: Path, sleeps: list[float]) -> Iterator[OsvSync]:
    with _sync(server, tmp_path, sleeps) as s:
        yield s


def _state(osv: OsvSync) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((osv.cache_dir / "state.json").read_text())
    return data


# --------------------------------------------------------------------------- full, then none


def test_first_sync_downloads_all_zip_with_progress(
    server: str, tmp_path: Path, sleeps: list[float], bucket: Bucket
) -> None:
    calls: list[tuple[str, int, int | None]] = []
    with _sync(server, tmp_path, sleeps, client=None) as osv:  # its own client this time
        result = osv.sync(["PyPI"], progress=lambda *a: calls.append(a))

    (eco,) = result.ecosystems
    assert eco.mode is SyncMode.FULL and eco.reason == "first sync"
    assert eco.paths == (osv.cache_dir / "PyPI" / "all.zip",)
    assert eco.paths[0].read_bytes() == bucket.files["/PyPI/all.zip"]
    assert eco.records == 3
    assert eco.high_water == "2024-02-01T10:00:00.123456789Z"
    assert eco.bytes_downloaded >= len(bucket.files["/PyPI/all.zip"])
    size = len(bucket.files["/PyPI/all.zip"])
    assert calls[0] == ("PyPI all.zip", 0, size) and calls[-1] == ("PyPI all.zip", size, size)
    assert bucket.log[0][2]["user-agent"].startswith("meshward/")
    # the mark is read (the top of the CSV) before the zip
    assert bucket.requests() == ["/PyPI/modified_id.csv", "/PyPI/all.zip"]
    entry = _state(osv)["ecosystems"]["PyPI"]
    assert entry["high_water"] == eco.high_water and entry["zip_etag"] and entry["csv_etag"]
    assert not list((osv.cache_dir / "PyPI").glob("*.part"))


def test_second_sync_without_change_is_not_modified(osv: OsvSync, bucket: Bucket) -> None:
    osv.sync(["PyPI"])
    bucket.log.clear()
    (eco,) = osv.sync(["PyPI"]).ecosystems
    assert eco.mode is SyncMode.NOT_MODIFIED and eco.paths == ()
    assert bucket.requests() == ["/PyPI/modified_id.csv"]
    assert bucket.log[0][2]["if-none-match"] == _state(osv)["ecosystems"]["PyPI"]["csv_etag"]


def test_csv_rewritten_but_nothing_newer_fetches_nothing(osv: OsvSync, bucket: Bucket) -> None:
    osv.sync(["PyPI"])
    bucket.files["/PyPI/modified_id.csv"] += b"\n"  # new ETag, same content
    bucket.log.clear()
    (eco,) = osv.sync(["PyPI"]).ecosystems
    assert eco.mode is SyncMode.NOT_MODIFIED and eco.reason == "no record changed"
    assert bucket.requests(".json") == []


# --------------------------------------------------------------------------- incremental


def test_incremental_fetches_exactly_the_changed_records(osv: OsvSync, bucket: Bucket) -> None:
    osv.sync(["PyPI"])
    bucket.put("PyPI", _record("PYSEC-2024-1", "2024-03-01T00:00:00Z", summary="changed"))
    bucket.put("PyPI", _record("PYSEC-2024-9", "2024-03-02T00:00:00.5Z"))
    bucket.publish("PyPI")
    bucket.log.clear()

    calls: list[tuple[str, int, int | None]] = []
    (eco,) = osv.sync(["PyPI"], progress=lambda *a: calls.append(a)).ecosystems

    assert eco.mode is SyncMode.INCREMENTAL and eco.reason == "2 records changed"
    assert sorted(bucket.requests(".json")) == [
        "/PyPI/PYSEC-2024-1.json",
        "/PyPI/PYSEC-2024-9.json",
    ]
    assert "/PyPI/all.zip" not in bucket.requests()
    records = osv.cache_dir / "PyPI" / "records"
    assert eco.paths == (records / "PYSEC-2024-9.json", records / "PYSEC-2024-1.json")
    assert json.loads(eco.paths[1].read_text())["summary"] == "changed"
    assert eco.records == 2 and eco.high_water == "2024-03-02T00:00:00.5Z"
    assert calls[0] == ("PyPI records", 0, 2) and calls[-1] == ("PyPI records", 2, 2)
    assert _state(osv)["ecosystems"]["PyPI"]["high_water"] == "2024-03-02T00:00:00.5Z"

    # and then nothing, and the records folder is emptied of the last batch
    (again,) = osv.sync(["PyPI"]).ecosystems
    assert again.mode is SyncMode.NOT_MODIFIED
    assert not list(records.glob("*.json"))


def test_same_second_nanoseconds_are_not_missed(osv: OsvSync, bucket: Bucket) -> None:
    """osv.dev sorts the CSV as text, so ``…00Z`` comes before ``…00.5Z`` though it is older;
    the scan must not stop at the first older line within the mark's second."""
    bucket.records["PyPI"].clear()
    bucket.put("PyPI", _record("A-1", "2024-05-01T00:00:00.1Z"))
    bucket.publish("PyPI")
    osv.sync(["PyPI"])
    bucket.put("PyPI", _record("A-2", "2024-05-01T00:00:00Z"))  # older: not fetched
    bucket.put("PyPI", _record("A-3", "2024-05-01T00:00:00.100000001Z"))  # 1 ns newer
    bucket.publish("PyPI")
    assert bucket.files["/PyPI/modified_id.csv"].decode().splitlines()[0].endswith(",A-2")
    (eco,) = osv.sync(["PyPI"]).ecosystems
    assert [p.name for p in eco.paths] == ["A-3.json"]


def test_almalinux_ids_are_url_encoded(osv: OsvSync, bucket: Bucket) -> None:
    bucket.put("AlmaLinux", _record("ALSA-2022:0001", "2024-01-01T00:00:00Z", "AlmaLinux"))
    bucket.publish("AlmaLinux")
    osv.sync(["AlmaLinux"])
    bucket.put("AlmaLinux", _record("ALSA-2024:1234", "2024-06-01T00:00:00Z", "AlmaLinux"))
    bucket.publish("AlmaLinux")
    bucket.log.clear()
    (eco,) = osv.sync(["AlmaLinux"]).ecosystems
    assert [raw for p, raw, _ in bucket.log if p.endswith(".json")] == [
        "/AlmaLinux/ALSA-2024%3A1234.json"
    ]
    assert eco.paths[0].name == "ALSA-2024%3A1234.json"
    assert json.loads(eco.paths[0].read_text())["id"] == "ALSA-2024:1234"


def test_ecosystem_with_space_is_url_encoded(osv: OsvSync, bucket: Bucket) -> None:
    bucket.put("GitHub Actions", _record("GHSA-gha1-xxxx-yyyy", "2024-01-01T00:00:00Z"))
    bucket.publish("GitHub Actions")
    (eco,) = osv.sync(["GitHub Actions"]).ecosystems
    assert eco.mode is SyncMode.FULL and eco.records == 1
    assert bucket.log[-1][1] == "/GitHub%20Actions/all.zip"


def test_too_many_changes_fall_back_to_all_zip(
    server: str, tmp_path: Path, sleeps: list[float], bucket: Bucket
) -> None:
    with _sync(server, tmp_path, sleeps, max_incremental=1) as osv:
        osv.sync(["PyPI"])
        for n in range(3):
            bucket.put("PyPI", _record(f"NEW-{n}", f"2024-07-0{n + 1}T00:00:00Z"))
        bucket.publish("PyPI")
        bucket.log.clear()
        (eco,) = osv.sync(["PyPI"]).ecosystems
    assert eco.mode is SyncMode.FULL and "more than 1" in eco.reason
    assert bucket.requests() == ["/PyPI/modified_id.csv", "/PyPI/all.zip"]
    assert eco.records == 6 and eco.high_water == "2024-07-03T00:00:00Z"


def test_deleted_record_is_reported_missing(osv: OsvSync, bucket: Bucket) -> None:
    osv.sync(["PyPI"])
    bucket.put("PyPI", _record("GONE-1", "2024-08-01T00:00:00Z"))
    bucket.put("PyPI", _record("KEPT-1", "2024-08-02T00:00:00Z"))
    bucket.publish("PyPI")
    del bucket.files["/PyPI/GONE-1.json"]
    (eco,) = osv.sync(["PyPI"]).ecosystems
    assert eco.missing == ("GONE-1",) and [p.name for p in eco.paths] == ["KEPT-1.json"]


# --------------------------------------------------------------------------- without the CSV


def test_without_csv_conditional_get_of_all_zip(osv: OsvSync, bucket: Bucket) -> None:
    bucket.publish("PyPI", csv=False)
    (first,) = osv.sync(["PyPI"]).ecosystems
    assert first.mode is SyncMode.FULL and first.high_water is None

    bucket.log.clear()
    (second,) = osv.sync(["PyPI"]).ecosystems
    assert second.mode is SyncMode.NOT_MODIFIED and second.paths == ()
    zip_request = bucket.log[-1]
    assert zip_request[0] == "/PyPI/all.zip"
    assert zip_request[2]["if-none-match"].startswith('"')
    assert "if-modified-since" in zip_request[2]

    bucket.put("PyPI", _record("PYSEC-2024-4", "2024-04-01T00:00:00Z"))
    bucket.publish("PyPI", csv=False)
    (third,) = osv.sync(["PyPI"]).ecosystems
    assert third.mode is SyncMode.FULL and third.records == 4


def test_csv_that_disappears_falls_back_to_conditional_zip(osv: OsvSync, bucket: Bucket) -> None:
    osv.sync(["PyPI"])
    del bucket.files["/PyPI/modified_id.csv"]
    bucket.log.clear()
    (eco,) = osv.sync(["PyPI"]).ecosystems
    assert eco.mode is SyncMode.NOT_MODIFIED and eco.reason == "all.zip unchanged"
    assert bucket.requests() == ["/PyPI/modified_id.csv", "/PyPI/all.zip"]


# --------------------------------------------------------------------------- failures


def test_retries_after_503_honouring_retry_after(
    osv: OsvSync, bucket: Bucket, sleeps: list[float]
) -> None:
    bucket.fail["/PyPI/all.zip"] = 2
    bucket.retry_after = "0"
    (eco,) = osv.sync(["PyPI"]).ecosystems
    assert eco.mode is SyncMode.FULL
    assert bucket.requests("all.zip") == ["/PyPI/all.zip"] * 3
    assert sleeps == [0.0, 0.0]  # Retry-After: 0 wins over the backoff


def test_connection_dropped_mid_body_is_retried(
    osv: OsvSync, bucket: Bucket, sleeps: list[float]
) -> None:
    bucket.truncate["/PyPI/all.zip"] = 1
    (eco,) = osv.sync(["PyPI"]).ecosystems
    assert eco.paths[0].read_bytes() == bucket.files["/PyPI/all.zip"]
    assert bucket.requests("all.zip") == ["/PyPI/all.zip"] * 2 and len(sleeps) == 1
    assert not list((osv.cache_dir / "PyPI").glob(".*part"))


def test_retry_after_is_capped_and_backoff_used_without_it(
    osv: OsvSync, bucket: Bucket, sleeps: list[float]
) -> None:
    bucket.fail["/PyPI/modified_id.csv"] = 1
    bucket.fail["/PyPI/all.zip"] = 1
    bucket.retry_after = "3600"
    osv.sync(["PyPI"])
    bucket.put("PyPI", _record("PYSEC-2024-5", "2024-09-01T00:00:00Z"))
    bucket.publish("PyPI")
    bucket.retry_after = None
    bucket.fail["/PyPI/PYSEC-2024-5.json"] = 1
    (eco,) = osv.sync(["PyPI"]).ecosystems
    assert eco.mode is SyncMode.INCREMENTAL
    assert sleeps[:2] == [0.01, 0.01]  # an hour asked, max_backoff given
    assert 0.001 <= sleeps[2] <= 0.01


def test_gives_up_after_bounded_attempts_naming_the_url(
    osv: OsvSync, bucket: Bucket, sleeps: list[float]
) -> None:
    bucket.fail["/PyPI/all.zip"] = 99
    with pytest.raises(MeshwardError, match=r"/PyPI/all\.zip: HTTP 503 .*after 4 attempts"):
        osv.sync(["PyPI"])
    assert len(sleeps) == 3
    assert not (osv.cache_dir / "state.json").exists()


def test_connection_refused_is_retried_then_reported(tmp_path: Path, sleeps: list[float]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        _sync(f"http://127.0.0.1:{port}", tmp_path, sleeps, attempts=2) as osv,
        pytest.raises(MeshwardError, match=rf"127\.0\.0\.1:{port}/PyPI/.*ConnectError"),
    ):
        osv.sync(["PyPI"])
    assert len(sleeps) == 1


def test_bad_id_in_csv_is_refused_before_any_request(osv: OsvSync, bucket: Bucket) -> None:
    osv.sync(["PyPI"])
    before = _state(osv)
    bucket.files["/PyPI/modified_id.csv"] = (
        b"2024-10-02T00:00:00Z,GOOD-1\n2024-10-01T00:00:00Z,../../etc/passwd\n"
    )
    bucket.log.clear()
    with pytest.raises(InputError) as info:
        osv.sync(["PyPI"])
    assert info.value.place == "line 2" and "refused record id" in info.value.message
    assert "modified_id.csv" in str(info.value)
    assert bucket.requests(".json") == [] and _state(osv) == before


@pytest.mark.parametrize(
    "line",
    [
        b"not-a-time,GOOD-1",
        b"2024-10-01T00:00:00Z",
        b"2024-10-01T00:00:00Z,a/b",
        b"2024-10-01T00:00:00Z,.x",
    ],
)
def test_malformed_csv_lines_are_refused(osv: OsvSync, bucket: Bucket, line: bytes) -> None:
    osv.sync(["PyPI"])
    bucket.files["/PyPI/modified_id.csv"] = line + b"\n"
    with pytest.raises(InputError, match="line 1"):
        osv.sync(["PyPI"])


def test_record_for_another_id_is_refused(osv: OsvSync, bucket: Bucket) -> None:
    osv.sync(["PyPI"])
    bucket.put("PyPI", _record("PYSEC-2024-6", "2024-11-01T00:00:00Z"))
    bucket.publish("PyPI")
    bucket.files["/PyPI/PYSEC-2024-6.json"] = json.dumps(_record("OTHER-1", "x")).encode()
    with pytest.raises(InputError, match="/id: holds 'OTHER-1'"):
        osv.sync(["PyPI"])
    assert not list((osv.cache_dir / "PyPI" / "records").glob("*.json"))


def test_oversize_record_is_refused(
    server: str, tmp_path: Path, sleeps: list[float], bucket: Bucket
) -> None:
    with _sync(server, tmp_path, sleeps, limits=Limits(max_bytes=400)) as osv:
        osv.sync(["PyPI"])
        bucket.put("PyPI", _record("BIG-1", "2024-12-01T00:00:00Z", details="x" * 1000))
        bucket.publish("PyPI")
        with pytest.raises(MeshwardError, match=r"BIG-1\.json: refused record of 1,\d+ bytes"):
            osv.sync(["PyPI"])


@pytest.mark.parametrize("no_length", [False, True])
def test_oversize_zip_is_refused(
    server: str, tmp_path: Path, sleeps: list[float], bucket: Bucket, no_length: bool
) -> None:
    bucket.no_length = no_length
    with (
        _sync(server, tmp_path, sleeps, max_zip_bytes=100) as osv,
        pytest.raises(MeshwardError, match=r"all\.zip: refused all\.zip"),
    ):
        osv.sync(["PyPI"])
    eco_dir = tmp_path / "cache" / "PyPI"
    assert not (eco_dir / "all.zip").exists() and not list(eco_dir.glob(".*part"))


def test_zip_streams_without_content_length(osv: OsvSync, bucket: Bucket) -> None:
    bucket.no_length = True
    calls: list[tuple[str, int, int | None]] = []
    (eco,) = osv.sync(["PyPI"], progress=lambda *a: calls.append(a)).ecosystems
    assert eco.records == 3 and calls[-1][2] is None


def test_not_a_zip_is_refused(osv: OsvSync, bucket: Bucket) -> None:
    bucket.files["/PyPI/all.zip"] = b"<html>captive portal</html>"
    with pytest.raises(MeshwardError, match="not a readable zip"):
        osv.sync(["PyPI"])
    assert not (osv.cache_dir / "PyPI" / "all.zip").exists()


def test_unknown_ecosystem_says_so(osv: OsvSync) -> None:
    with pytest.raises(MeshwardError, match=r"not found.*'pypi' an OSV ecosystem"):
        osv.sync(["pypi"])


# --------------------------------------------------------------------------- URLs, redirects


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.org/osv", "/just/a/path", "http://h/x?q=1"]
)
def test_non_http_source_is_refused(url: str, tmp_path: Path) -> None:
    with pytest.raises(MeshwardError, match=r"refused source URL|invalid source URL"):
        OsvSync(url, tmp_path)


@pytest.mark.parametrize("name", ["../etc", "a/b", "", ".hidden", "x" * 200])
def test_bad_ecosystem_name_is_refused(name: str) -> None:
    with pytest.raises(MeshwardError, match="refused ecosystem name"):
        check_ecosystem(name)


def test_redirect_within_host_is_followed(osv: OsvSync, bucket: Bucket, server: str) -> None:
    bucket.files["/mirror/PyPI/all.zip"] = bucket.files.pop("/PyPI/all.zip")
    bucket.mtimes["/mirror/PyPI/all.zip"] = bucket.clock
    bucket.redirects["/PyPI/all.zip"] = f"{server}/mirror/PyPI/all.zip"
    (eco,) = osv.sync(["PyPI"]).ecosystems
    assert eco.records == 3 and bucket.requests()[-1] == "/mirror/PyPI/all.zip"


def test_redirect_to_another_host_is_refused(osv: OsvSync, bucket: Bucket, server: str) -> None:
    other = server.replace("127.0.0.1", "localhost")  # same server, other host name
    bucket.redirects["/PyPI/all.zip"] = f"{other}/PyPI/all.zip"
    with pytest.raises(MeshwardError, match="refused redirect to http://localhost"):
        osv.sync(["PyPI"])
    assert bucket.requests("all.zip") == ["/PyPI/all.zip"]


def test_credentials_are_kept_out_of_messages() -> None:
    assert shown("https://user:secret@mirror.example/osv") == "https://mirror.example/osv"


# --------------------------------------------------------------------------- state


def test_deferred_state_is_saved_only_when_asked(osv: OsvSync, bucket: Bucket) -> None:
    result = osv.sync(["PyPI"], save_state=False)
    assert not (osv.cache_dir / "state.json").exists()
    (again,) = osv.sync(["PyPI"], save_state=False).ecosystems
    assert again.mode is SyncMode.FULL  # nothing stored, so still a first sync
    osv.save_state(result)
    (third,) = osv.sync(["PyPI"]).ecosystems
    assert third.mode is SyncMode.NOT_MODIFIED


def test_other_source_or_corrupt_state_means_full_sync(
    osv: OsvSync, bucket: Bucket, server: str, tmp_path: Path, sleeps: list[float]
) -> None:
    osv.sync(["PyPI"])
    with _sync(server + "/", tmp_path, sleeps) as same:  # trailing slash: same source
        assert same.sync(["PyPI"]).ecosystems[0].mode is SyncMode.NOT_MODIFIED
    state = _state(osv)
    state["ecosystems"]["PyPI"]["base_url"] = "https://elsewhere.example"
    (osv.cache_dir / "state.json").write_text(json.dumps(state))
    assert osv.sync(["PyPI"]).ecosystems[0].mode is SyncMode.FULL
    (osv.cache_dir / "state.json").write_text("{not json")
    assert osv.sync(["PyPI"]).ecosystems[0].mode is SyncMode.FULL


def test_several_ecosystems_and_result_dict(osv: OsvSync, bucket: Bucket) -> None:
    bucket.put("npm", _record("GHSA-npm1-xxxx-yyyy", "2024-01-01T00:00:00Z", "npm"))
    bucket.publish("npm")
    result = osv.sync(["PyPI", "npm", "PyPI"])
    assert [e.ecosystem for e in result.ecosystems] == ["PyPI", "npm"]
    assert len(result.paths) == 2 and result.bytes_downloaded > 0
    d = result.to_dict()
    assert d["ecosystems"][1]["mode"] == "full" and d["ecosystems"][1]["records"] == 1
    assert set(_state(osv)["ecosystems"]) == {"PyPI", "npm"}


# --------------------------------------------------------------------------- timestamps


def test_parse_modified_keeps_nanoseconds_and_offsets() -> None:
    base = parse_modified("2024-01-01T00:00:00Z")
    assert base is not None
    assert parse_modified("2024-01-01T00:00:00.000000001Z") == base + 1
    assert parse_modified("2024-01-01T00:00:00.5Z") == base + 500_000_000
    assert parse_modified("2024-01-01T01:00:00+01:00") == base
    assert parse_modified("2023-12-31T23:00:00-01:00") == base
    for bad in ("2024-13-01T00:00:00Z", "2024-01-01", "2024-01-01T00:00:00", "yesterday"):
        assert parse_modified(bad) is None
