"""Incremental download of OSV data from the osv.dev bucket, or from a mirror laid out alike.

The layout is the one osv.dev's exporter writes, per ecosystem: ``<base>/<ECOSYSTEM>/all.zip``,
``<base>/<ECOSYSTEM>/modified_id.csv`` (``<RFC 3339 modified>,<ID>`` a line, no header, newest
first) and ``<base>/<ECOSYSTEM>/<ID>.json``. Nothing here touches the database: a sync leaves
files in the cache and names them, and the importer reads them like any user-given file, so an
air-gapped site can carry the same files across by hand.

Why the strategy is what it is:

- The first sync of an ecosystem fetches ``all.zip``, streamed to a temporary file and renamed
  into place: Debian's is about a gigabyte, so it is never held in memory.
- Later syncs read ``modified_id.csv`` only down to the stored high-water mark (it is sorted
  newest first) and fetch each changed record on its own. The CSV is asked for with its ETag,
  so "nothing changed" costs one 304.
- A mirror without the CSV gets a conditional GET of ``all.zip`` (If-None-Match,
  If-Modified-Since) instead.
- The high-water mark comes from the CSV read *before* the zip is fetched: if the bucket moves
  on between the two requests the mark is older than the zip, and the next run fetches a few
  records twice rather than missing any.
- State advances only when an ecosystem has been fetched completely; a failure midway leaves
  the previous state, so the next run simply redoes the work.
- osv.dev writes timestamps with up to nine fraction digits and sorts the CSV by their text.
  Both are handled exactly: timestamps compare as integer nanoseconds, and the scan stops only
  at a line from an earlier *second* than the mark, where text order and time order agree.
"""

from __future__ import annotations

import calendar
import contextlib
import email.utils
import os
import random
import re
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import orjson

from meshward import __version__
from meshward.errors import InputError, MeshwardError
from meshward.limits import Limits

DEFAULT_OSV_URL = "https://osv-vulnerabilities.storage.googleapis.com"
DEFAULT_MAX_ZIP_BYTES = 2 * 1024**3
"""Largest ``all.zip`` accepted; the biggest real one (Debian) is about half of this."""
DEFAULT_MAX_INCREMENTAL = 5000
"""More changed records than this and one ``all.zip`` is cheaper than that many GETs."""

STATE_FILE = "state.json"
STATE_VERSION = 1
CHUNK_BYTES = 64 * 1024
MAX_CSV_LINE = 4096
MAX_REDIRECTS = 5
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NS = 1_000_000_000

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
"""An advisory id as it may appear in a URL and a file name: no ``/``, no leading dot."""
_ECOSYSTEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._:+-]{0,99}")
"""``PyPI``, ``crates.io``, ``GitHub Actions``, ``Rocky Linux``, ``Debian:12`` ..."""
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:[Zz]|([+-])(\d{2}):(\d{2}))"
)

ProgressCallback = Callable[[str, int, int | None], None]
"""``progress(label, done, total)``. Label ``"<ecosystem> all.zip"``: bytes written so far and
the Content-Length (None when the server sends none). Label ``"<ecosystem> records"``: records
fetched so far and how many are due."""

T = TypeVar("T")


class SyncMode(StrEnum):
    FULL = "full"
    INCREMENTAL = "incremental"
    NOT_MODIFIED = "not-modified"


@dataclass(frozen=True, slots=True)
class EcosystemSync:
    """What one ecosystem's sync did, and which local files the importer should read."""

    ecosystem: str
    mode: SyncMode
    reason: str
    """Why this mode, in words for the user (``first sync``, ``3 records changed`` ...)."""
    paths: tuple[Path, ...]
    """The fresh ``all.zip`` (full), the changed records (incremental), nothing otherwise."""
    records: int
    """Members of the downloaded ``all.zip``, or record files fetched."""
    bytes_downloaded: int
    high_water: str | None
    """Newest ``modified`` seen in ``modified_id.csv``; None when the source has no CSV."""
    missing: tuple[str, ...] = ()
    """Ids the CSV listed as changed whose JSON the source no longer serves (404)."""
    state: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """The state entry to store once the files are imported (see ``OsvSync.save_state``)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "ecosystem": self.ecosystem,
            "mode": str(self.mode),
            "reason": self.reason,
            "paths": [str(p) for p in self.paths],
            "records": self.records,
            "bytes_downloaded": self.bytes_downloaded,
            "high_water": self.high_water,
            "missing": list(self.missing),
        }


@dataclass(frozen=True, slots=True)
class SyncResult:
    ecosystems: tuple[EcosystemSync, ...]

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every file to import, in ecosystem order."""
        return tuple(p for eco in self.ecosystems for p in eco.paths)

    @property
    def bytes_downloaded(self) -> int:
        return sum(eco.bytes_downloaded for eco in self.ecosystems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ecosystems": [eco.to_dict() for eco in self.ecosystems],
            "bytes_downloaded": self.bytes_downloaded,
        }


# --------------------------------------------------------------------------- small parts


def parse_modified(text: str) -> int | None:
    """RFC 3339 to integer nanoseconds since the epoch; None when unreadable.

    Not ``datetime``: it keeps microseconds, and osv.dev writes nanoseconds."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.group(1, 2, 3, 4, 5, 6))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        return None
    seconds = calendar.timegm(moment.timetuple())
    if m.group(8):
        offset = (int(m.group(9)) * 60 + int(m.group(10))) * 60
        seconds += -offset if m.group(8) == "+" else offset
    return seconds * _NS + int((m.group(7) or "").ljust(9, "0"))


def check_ecosystem(name: str) -> str:
    if not _ECOSYSTEM.fullmatch(name) or ".." in name:
        raise MeshwardError(
            f"refused ecosystem name {_clip(name)}: use the OSV name (PyPI, npm, crates.io, "
            "Go, Maven, Debian ...): letters, digits, space and . _ : + - only"
        )
    return name


def shown(url: str | httpx.URL) -> str:
    """A URL fit for a message: any user:password@ is dropped."""
    return re.sub(r"//[^/@]*@", "//", str(url))


def _clip(text: str, width: int = 80) -> str:
    return repr(text if len(text) <= width else text[:width] + "...")


def _check_base_url(base_url: str) -> str:
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise MeshwardError(f"invalid source URL {_clip(shown(base_url))}: {exc}") from exc
    if url.scheme not in ("http", "https"):
        raise MeshwardError(
            f"refused source URL {shown(base_url)}: only http:// and https:// are supported"
        )
    if not url.host:
        raise MeshwardError(f"refused source URL {shown(base_url)}: it names no host")
    if url.query or url.fragment:
        raise MeshwardError(
            f"refused source URL {shown(base_url)}: give the base of the bucket, "
            "without ?query or #fragment"
        )
    return base_url.rstrip("/")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return (url.scheme, url.host, url.port or default)


def _file_name(name: str) -> str:
    """A percent-encoded local name: injective, and free of ``:`` (which Windows refuses)."""
    return quote(name, safe=" +._-")


def _header(response: httpx.Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value if value else None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _capped(response: httpx.Response, cap: int, url: str, what: str) -> Iterator[bytes]:
    """The body in chunks, refused as soon as it passes ``cap`` (counted after decoding,
    so a gzip bomb is caught too)."""
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        raise MeshwardError(
            f"{shown(url)}: refused {what} of {int(declared):,} bytes (limit {cap:,})"
        )
    received = 0
    for chunk in response.iter_bytes(CHUNK_BYTES):
        received += len(chunk)
        if received > cap:
            raise MeshwardError(f"{shown(url)}: refused {what} larger than {cap:,} bytes")
        yield chunk


def _write_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# --------------------------------------------------------------------------- HTTP


class _Http:
    """GET with bounded retries, same-origin redirects only, and one-line errors."""

    def __init__(
        self,
        client: httpx.Client,
        timeout: float,
        attempts: int,
        backoff: float,
        max_backoff: float,
        sleep: Callable[[float], None],
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.sleep = sleep

    def fetch(
        self,
        url: str,
        consume: Callable[[httpx.Response], T],
        *,
        headers: Mapping[str, str] | None = None,
        accept: frozenset[int] = frozenset({200}),
    ) -> T:
        """GET ``url`` and hand the streaming response to ``consume`` once its status is in
        ``accept``. Connection errors (also while the body streams), 5xx and 429 are retried
        with backoff; anything else is a ``MeshwardError`` naming the URL."""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self._open(url, headers or {}) as response:
                    status = response.status_code
                    if status >= 500 or status == 429:
                        if attempt >= self.attempts:
                            raise MeshwardError(
                                f"{shown(url)}: HTTP {status} {response.reason_phrase} "
                                f"(gave up after {attempt} attempts)"
                            )
                        delay = self._delay(attempt, _header(response, "retry-after"))
                    elif status in accept:
                        return consume(response)
                    else:
                        raise MeshwardError(f"{shown(url)}: HTTP {status} {response.reason_phrase}")
            except httpx.TransportError as exc:
                if attempt >= self.attempts:
                    raise MeshwardError(
                        f"{shown(url)}: {type(exc).__name__}: {exc or 'no detail'} "
                        f"(gave up after {attempt} attempts)"
                    ) from exc
                delay = self._delay(attempt, None)
            except httpx.HTTPError as exc:
                raise MeshwardError(f"{shown(url)}: {type(exc).__name__}: {exc}") from exc
            self.sleep(delay)

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        """Retry-After when the server gives one, else exponential backoff with jitter;
        either way no more than ``max_backoff``."""
        wait = _retry_after(retry_after)
        if wait is None:
            wait = self.backoff * 2 ** (attempt - 1)
            wait += random.uniform(0, wait / 4)  # noqa: S311 - jitter, not a secret
        return min(wait, self.max_backoff)

    @contextlib.contextmanager
    def _open(self, url: str, headers: Mapping[str, str]) -> Iterator[httpx.Response]:
        origin = _origin(httpx.URL(url))
        current = httpx.URL(url)
        for _ in range(MAX_REDIRECTS + 1):
            request = self.client.build_request(
                "GET", current, headers=headers, timeout=self.timeout
            )
            response = self.client.send(request, stream=True, follow_redirects=False)
            location = response.headers.get("location")
            if response.status_code in _REDIRECTS and location:
                response.close()
                target = current.join(location)
                if _origin(target) != origin:
                    raise MeshwardError(
                        f"{shown(url)}: refused redirect to {shown(target)}: only redirects "
                        f"within {origin[0]}://{origin[1]} are followed"
                    )
                current = target
                continue
            try:
                yield response
            finally:
                response.close()
            return
        raise MeshwardError(f"{shown(url)}: more than {MAX_REDIRECTS} redirects")


# --------------------------------------------------------------------------- state


class _StateFile:
    """``cache_dir/state.json``: one entry per ecosystem, written atomically.

    Unreadable state is treated as none (the cost is one full download, never wrong data)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, dict[str, Any]]:
        try:
            data = orjson.loads(self.path.read_bytes())
        except (FileNotFoundError, orjson.JSONDecodeError, OSError):
            return {}
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return {}
        entries = data.get("ecosystems")
        if not isinstance(entries, dict):
            return {}
        return {k: v for k, v in entries.items() if isinstance(v, dict)}

    def save(self, updates: Mapping[str, Mapping[str, Any]]) -> None:
        entries = self.load()
        entries.update({eco: dict(entry) for eco, entry in updates.items()})
        data = {"version": STATE_VERSION, "ecosystems": entries}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(self.path, orjson.dumps(data, option=orjson.OPT_INDENT_2))


# --------------------------------------------------------------------------- the CSV


@dataclass(slots=True)
class _Listing:
    """What was read of ``modified_id.csv``."""

    found: bool = True
    """False when the source has no CSV (404)."""
    not_modified: bool = False
    """True on a 304 to our If-None-Match."""
    changes: dict[str, str] = field(default_factory=dict)
    """Id -> its ``modified`` text, newest first, only those after the mark."""
    overflow: bool = False
    """More changes than the incremental cap; reading stopped there."""
    newest: tuple[int, str] | None = None
    etag: str | None = None
    last_modified: str | None = None
    bytes: int = 0


def _csv_lines(response: httpx.Response, cap: int, url: str) -> Iterator[tuple[int, str]]:
    """Non-empty lines with their numbers, read lazily so the caller can stop early."""
    pending = b""
    number = 0
    for chunk in _capped(response, cap, url, "modified_id.csv"):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        if len(pending) > MAX_CSV_LINE:
            raise InputError(shown(url), f"line {number + len(lines) + 1}", "line too long")
        for raw in lines:
            number += 1
            if raw.strip():
                yield number, _decode_line(raw, number, url)
    if pending.strip():
        yield number + 1, _decode_line(pending, number + 1, url)


def _decode_line(raw: bytes, number: int, url: str) -> str:
    try:
        return raw.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise InputError(shown(url), f"line {number}", "not ASCII") from exc


def _parse_csv_line(line: str, number: int, url: str) -> tuple[int, str, str]:
    stamp_text, sep, record_id = line.partition(",")
    stamp_text, record_id = stamp_text.strip(), record_id.strip()
    if not sep:
        raise InputError(shown(url), f"line {number}", "expected '<modified>,<id>'")
    stamp = parse_modified(stamp_text)
    if stamp is None:
        raise InputError(
            shown(url), f"line {number}", f"unreadable RFC 3339 timestamp {_clip(stamp_text)}"
        )
    if not _ID.fullmatch(record_id):
        raise InputError(
            shown(url),
            f"line {number}",
            f"refused record id {_clip(record_id)}: an id holds only letters, digits "
            "and . _ : - (and starts with a letter or digit)",
        )
    return stamp, stamp_text, record_id


# --------------------------------------------------------------------------- the sync


class OsvSync:
    """Keeps ``cache_dir`` up to date with an OSV bucket, one ecosystem directory each.

    ``cache_dir/<ecosystem>/all.zip`` holds the last full download and
    ``cache_dir/<ecosystem>/records/`` the records fetched by the last incremental sync (the
    directory is emptied at the start of each sync of that ecosystem).
    """

    def __init__(
        self,
        base_url: str,
        cache_dir: Path,
        *,
        client: httpx.Client | None = None,
        timeout: float = 60,
        max_zip_bytes: int = DEFAULT_MAX_ZIP_BYTES,
        limits: Limits | None = None,
        attempts: int = 4,
        backoff: float = 1.0,
        max_backoff: float = 30.0,
        max_incremental: int = DEFAULT_MAX_INCREMENTAL,
        workers: int = 8,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = _check_base_url(base_url)
        self.cache_dir = Path(cache_dir)
        self.max_zip_bytes = max_zip_bytes
        self.limits = limits or Limits.from_env()
        self.max_incremental = max_incremental
        self.workers = max(1, workers)
        self._owns_client = client is None
        self._client = client or httpx.Client(
            headers={"User-Agent": f"meshward/{__version__}"}, follow_redirects=False
        )
        self._http = _Http(self._client, timeout, attempts, backoff, max_backoff, sleep)
        self._state = _StateFile(self.cache_dir / STATE_FILE)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> OsvSync:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ----------------------------------------------------------------- public

    def sync(
        self,
        ecosystems: list[str],
        progress: ProgressCallback | None = None,
        *,
        save_state: bool = True,
    ) -> SyncResult:
        """Bring each ecosystem up to date and name the files to import.

        With ``save_state=False`` the state file is left alone and the caller stores it with
        ``save_state(result)`` once the files are imported, so a failed import is retried by
        the next sync instead of being skipped."""
        names = list(dict.fromkeys(check_ecosystem(e) for e in ecosystems))
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        stored = self._state.load()
        done: list[EcosystemSync] = []
        for eco in names:
            entry = stored.get(eco)
            if entry is not None and entry.get("base_url") != self.base_url:
                entry = None  # another source: its validators and mark mean nothing here
            outcome = self._sync_ecosystem(eco, entry, progress)
            if save_state:
                self._state.save({eco: outcome.state})
            done.append(outcome)
        return SyncResult(tuple(done))

    def save_state(self, result: SyncResult) -> None:
        self._state.save({eco.ecosystem: eco.state for eco in result.ecosystems})

    def ecosystem_dir(self, ecosystem: str) -> Path:
        return self.cache_dir / _file_name(check_ecosystem(ecosystem))

    # ----------------------------------------------------------------- strategy

    def _url(self, ecosystem: str, name: str) -> str:
        return f"{self.base_url}/{quote(ecosystem, safe='')}/{quote(name, safe='')}"

    def _sync_ecosystem(
        self, eco: str, entry: dict[str, Any] | None, progress: ProgressCallback | None
    ) -> EcosystemSync:
        if entry is None:
            return self._full(eco, None, progress, "first sync")
        mark_text = entry.get("high_water")
        mark = parse_modified(mark_text) if isinstance(mark_text, str) else None
        if mark is None:
            return self._full(eco, entry, progress, "all.zip changed", conditional=True)

        listing = self._read_csv(eco, entry, mark)
        if not listing.found:
            return self._full(
                eco, entry, progress, "all.zip changed (no modified_id.csv)", listing, True
            )
        if listing.overflow:
            return self._full(
                eco, entry, progress, f"more than {self.max_incremental} records changed", listing
            )
        if listing.not_modified or not listing.changes:
            self._clear_records(eco)
            state = {**entry, "checked_at": _now()}
            if not listing.not_modified:
                state.update(csv_etag=listing.etag, csv_last_modified=listing.last_modified)
            why = "modified_id.csv unchanged" if listing.not_modified else "no record changed"
            return EcosystemSync(
                eco, SyncMode.NOT_MODIFIED, why, (), 0, listing.bytes, mark_text, state=state
            )
        return self._incremental(eco, entry, listing, progress)

    def _read_csv(self, eco: str, entry: Mapping[str, Any] | None, mark: int | None) -> _Listing:
        """Read ``modified_id.csv`` down to ``mark``; without one, just far enough to know the
        newest stamp (the lines of the top second)."""
        url = self._url(eco, "modified_id.csv")
        headers: dict[str, str] = {}
        if entry is not None and mark is not None:
            if isinstance(etag := entry.get("csv_etag"), str):
                headers["If-None-Match"] = etag
            elif isinstance(since := entry.get("csv_last_modified"), str):
                headers["If-Modified-Since"] = since

        def consume(response: httpx.Response) -> _Listing:
            if response.status_code == 404:
                return _Listing(found=False, bytes=response.num_bytes_downloaded)
            if response.status_code == 304:
                return _Listing(not_modified=True, bytes=response.num_bytes_downloaded)
            listing = _Listing(
                etag=_header(response, "etag"), last_modified=_header(response, "last-modified")
            )
            for number, line in _csv_lines(response, self.limits.max_bytes, url):
                stamp, stamp_text, record_id = _parse_csv_line(line, number, url)
                if listing.newest is None or stamp > listing.newest[0]:
                    listing.newest = (stamp, stamp_text)
                if mark is None:  # only the newest stamp is wanted: scan its whole second
                    if stamp // _NS < listing.newest[0] // _NS:
                        break
                    continue
                if stamp // _NS < mark // _NS:
                    break  # text order agrees with time order across whole seconds
                if stamp <= mark:
                    continue
                listing.changes.setdefault(record_id, stamp_text)
                if len(listing.changes) > self.max_incremental:
                    listing.overflow = True
                    break
            listing.bytes = response.num_bytes_downloaded
            return listing

        return self._http.fetch(url, consume, headers=headers, accept=frozenset({200, 304, 404}))

    def _full(
        self,
        eco: str,
        entry: dict[str, Any] | None,
        progress: ProgressCallback | None,
        reason: str,
        listing: _Listing | None = None,
        conditional: bool = False,
    ) -> EcosystemSync:
        """Download ``all.zip`` (conditionally when asked and validators are stored)."""
        if listing is None:
            listing = self._read_csv(eco, None, None)  # the mark, before the zip
        url = self._url(eco, "all.zip")
        headers: dict[str, str] = {}
        if conditional and entry is not None:
            if isinstance(etag := entry.get("zip_etag"), str):
                headers["If-None-Match"] = etag
            if isinstance(since := entry.get("zip_last_modified"), str):
                headers["If-Modified-Since"] = since
        eco_dir = self.ecosystem_dir(eco)
        target = eco_dir / "all.zip"
        label = f"{eco} all.zip"

        def consume(response: httpx.Response) -> tuple[int, int] | None:
            if response.status_code == 304:
                return None
            if response.status_code == 404:
                raise MeshwardError(
                    f"{shown(url)}: not found (HTTP 404); is {eco!r} an OSV ecosystem? "
                    "Names are case-sensitive: PyPI, npm, crates.io, Go, Maven, Debian ..."
                )
            length = response.headers.get("content-length", "")
            total = int(length) if length.isdigit() else None
            eco_dir.mkdir(parents=True, exist_ok=True)
            for stale in eco_dir.glob(".all.zip.*.part"):
                stale.unlink(missing_ok=True)
            fd, tmp = tempfile.mkstemp(dir=eco_dir, prefix=".all.zip.", suffix=".part")
            try:
                written = 0
                with os.fdopen(fd, "wb") as out:
                    if progress:
                        progress(label, 0, total)
                    for chunk in _capped(response, self.max_zip_bytes, url, "all.zip"):
                        out.write(chunk)
                        written += len(chunk)
                        if progress:
                            progress(label, written, total)
                    out.flush()
                    os.fsync(out.fileno())
                members = _count_members(Path(tmp), url)
                os.replace(tmp, target)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(tmp)
                raise
            zip_validators.update(
                zip_etag=_header(response, "etag"),
                zip_last_modified=_header(response, "last-modified"),
            )
            return members, response.num_bytes_downloaded

        zip_validators: dict[str, str | None] = {}
        accept = frozenset({200, 304, 404} if headers else {200, 404})
        got = self._http.fetch(url, consume, headers=headers, accept=accept)
        if got is None:
            assert entry is not None  # a 304 needs the validators we sent
            self._clear_records(eco)
            return EcosystemSync(
                eco,
                SyncMode.NOT_MODIFIED,
                "all.zip unchanged",
                (),
                0,
                listing.bytes,
                entry.get("high_water"),
                state={**entry, "checked_at": _now()},
            )
        members, zip_bytes = got
        self._clear_records(eco)
        mark_text = listing.newest[1] if listing.newest else None
        state = {
            "base_url": self.base_url,
            "high_water": mark_text,
            "csv_etag": listing.etag,
            "csv_last_modified": listing.last_modified,
            **zip_validators,
            "mode": str(SyncMode.FULL),
            "synced_at": _now(),
            "checked_at": _now(),
        }
        return EcosystemSync(
            eco,
            SyncMode.FULL,
            reason,
            (target,),
            members,
            listing.bytes + zip_bytes,
            mark_text,
            state=state,
        )

    def _incremental(
        self,
        eco: str,
        entry: dict[str, Any],
        listing: _Listing,
        progress: ProgressCallback | None,
    ) -> EcosystemSync:
        records_dir = self._clear_records(eco)
        records_dir.mkdir(parents=True, exist_ok=True)
        ids = list(listing.changes)
        label = f"{eco} records"
        got: dict[str, tuple[Path | None, int]] = {}
        if progress:
            progress(label, 0, len(ids))
        with ThreadPoolExecutor(max_workers=min(self.workers, len(ids))) as pool:
            futures: dict[Future[tuple[Path | None, int]], str] = {
                pool.submit(self._fetch_record, eco, record_id, records_dir): record_id
                for record_id in ids
            }
            try:
                for future in as_completed(futures):
                    got[futures[future]] = future.result()
                    if progress:
                        progress(label, len(got), len(ids))
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        paths = tuple(p for rid in ids if (p := got[rid][0]) is not None)
        missing = tuple(rid for rid in ids if got[rid][0] is None)
        assert listing.newest is not None  # there were changes, so lines
        old_text = entry.get("high_water")
        old = parse_modified(old_text) if isinstance(old_text, str) else None
        mark_text = listing.newest[1] if old is None or listing.newest[0] > old else old_text
        state = {
            **entry,
            "base_url": self.base_url,
            "high_water": mark_text,
            "csv_etag": listing.etag,
            "csv_last_modified": listing.last_modified,
            "mode": str(SyncMode.INCREMENTAL),
            "synced_at": _now(),
            "checked_at": _now(),
        }
        n = len(ids)
        return EcosystemSync(
            eco,
            SyncMode.INCREMENTAL,
            f"{n} record{'s' if n != 1 else ''} changed",
            paths,
            len(paths),
            listing.bytes + sum(size for _, size in got.values()),
            mark_text,
            missing,
            state=state,
        )

    def _fetch_record(self, eco: str, record_id: str, records_dir: Path) -> tuple[Path | None, int]:
        url = self._url(eco, f"{record_id}.json")

        def consume(response: httpx.Response) -> tuple[Path | None, int]:
            if response.status_code == 404:
                return None, response.num_bytes_downloaded
            body = b"".join(_capped(response, self.limits.max_bytes, url, "record"))
            _check_record(body, record_id, url)
            path = records_dir / f"{_file_name(record_id)}.json"
            _write_atomic(path, body)
            return path, response.num_bytes_downloaded

        return self._http.fetch(url, consume, accept=frozenset({200, 404}))

    def _clear_records(self, eco: str) -> Path:
        """Empty ``records/`` of what an earlier sync left (only our own files)."""
        records_dir = self.ecosystem_dir(eco) / "records"
        if records_dir.is_dir():
            for pattern in ("*.json", ".*.part"):
                for old in records_dir.glob(pattern):
                    old.unlink(missing_ok=True)
        return records_dir


def _check_record(body: bytes, record_id: str, url: str) -> None:
    """The record must be a JSON object for the id we asked for, so a confused or hostile
    source cannot file one advisory under another's name."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InputError(shown(url), None, f"not valid JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InputError(shown(url), None, "not an OSV record (expected a JSON object)")
    if obj.get("id") != record_id:
        raise InputError(
            shown(url), "/id", f"holds {_clip(str(obj.get('id')))}, expected {record_id!r}"
        )


def _count_members(path: Path, url: str) -> int:
    try:
        with zipfile.ZipFile(path) as archive:
            return len(archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise MeshwardError(f"{shown(url)}: the download is not a readable zip: {exc}") from exc


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
