"""Limits and pacing of imports: settings, with these defaults where a setting is absent."""

from datetime import timedelta

from django.conf import settings

DEFAULTS = {
    # Refused with 413 at upload; the row count is taken by streaming the file.
    "APOLLO_IMPORT_MAX_BYTES": 512 * 1024 * 1024,
    "APOLLO_IMPORT_MAX_ROWS": 2_000_000,
    # Rows written per transaction; a crash loses at most one batch of work.
    "APOLLO_IMPORT_BATCH_SIZE": 1000,
    # A running job whose heartbeat is older than this may be claimed again.
    "APOLLO_IMPORT_STALE_SECONDS": 300,
}


def setting(name: str) -> int:
    return getattr(settings, name, DEFAULTS[name])


def max_bytes() -> int:
    return setting("APOLLO_IMPORT_MAX_BYTES")


def max_rows() -> int:
    return setting("APOLLO_IMPORT_MAX_ROWS")


def batch_size() -> int:
    return setting("APOLLO_IMPORT_BATCH_SIZE")


def stale_after() -> timedelta:
    return timedelta(seconds=setting("APOLLO_IMPORT_STALE_SECONDS"))
