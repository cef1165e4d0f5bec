"""The local OSV bucket fixtures, shared with the sync module's own tests."""

from tests.sync.test_osv_source import bucket, server

__all__ = ["bucket", "server"]
