"""Bringing outside data in over the network: the only package of meshward that does.

Everything here downloads to a local cache and hands back file paths; importing those files
into the store is the importers' job, so the rest of meshward stays usable air-gapped (copy
the cache, or any OSV ``all.zip``, across by hand and import it).
"""

from meshward.sync.osv_source import (
    DEFAULT_MAX_ZIP_BYTES,
    DEFAULT_OSV_URL,
    EcosystemSync,
    OsvSync,
    ProgressCallback,
    SyncMode,
    SyncResult,
)

__all__ = [
    "DEFAULT_MAX_ZIP_BYTES",
    "DEFAULT_OSV_URL",
    "EcosystemSync",
    "OsvSync",
    "ProgressCallback",
    "SyncMode",
    "SyncResult",
]
