"""Django's Redis cache, with fewer round trips and no client built per call.

The rate limiter calls the cache on every request (``apollo.ratelimit``), so what
Django's client spends around each command is paid on every answer.
"""

from django.core.cache.backends import redis


class RedisCacheClient(redis.RedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._clients = {}

    def get_client(self, key=None, *, write=False):
        # Django builds a client per call, and building one copies redis-py's table of
        # response callbacks, which costs about what the round trip does. A client is
        # safe to share, so each connection pool gets one.
        pool = self._get_connection_pool(write)
        client = self._clients.get(pool)
        if client is None:
            client = self._clients[pool] = self._client(connection_pool=pool)
        return client

    def incr(self, key, delta):
        # Django's EXISTS then INCRBY, in one transaction and one round trip. A missing
        # key (expired, evicted, never set) was just made by INCRBY, with no expiry: it
        # goes again, and the caller hears "not found" as from Django. The rate limiter
        # adds its keys first, so for it this is the rare case, not the common one.
        client = self.get_client(key, write=True)
        with client.pipeline() as pipe:
            existed, value = pipe.exists(key).incrby(key, delta).execute()
        if not existed:
            client.delete(key)
            raise ValueError(f"Key '{key}' not found.")
        return value


class RedisCache(redis.RedisCache):
    """``CACHES``' backend: Django's, with the client above."""

    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient
