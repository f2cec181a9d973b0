"""The settings of a test run: the project's, with an embedded Redis of its own.

A ``make run`` left running owns the project's Redis; a test run sharing it would share
its broker, and the server's worker would take the tasks the tests' worker waits for.
"""

from apollo.local_services import ensure_local_services

ensure_local_services(private_redis=True)

from apollo.settings import *  # noqa: E402, F403
