"""gunicorn's settings for ``manage.py run``: its own lines are JSON, like the app's.

Each request's line comes from the app (``request_finished``, with the request id), so
gunicorn keeps no access log of its own.
"""

import os

from apollo.logging import logging_config

logconfig_dict = logging_config(
    os.environ.get("APOLLO_LOG_LEVEL", "INFO"),
    loggers={
        "gunicorn.error": {"level": "INFO", "handlers": ["console"], "propagate": False},
        "gunicorn.access": {"level": "WARNING", "handlers": ["console"], "propagate": False},
    },
)
