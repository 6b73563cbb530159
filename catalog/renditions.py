"""Where sorl-thumbnail remembers the renditions it made (settings.THUMBNAIL_KVSTORE).

sorl's cached-db store keeps each record in the database and a copy in the default cache
(Redis in production). Here the cache is only a shortcut: when it cannot answer (Redis down
or its circuit open, a file cache's folder gone) records are read from and written to the
database alone, with one warning per outage, so a page that shows a photo never fails with
the cache.
"""
import logging
import threading

from django.db import connections, router
from sorl.thumbnail.conf import settings
from sorl.thumbnail.kvstores.cached_db_kvstore import EMPTY_VALUE
from sorl.thumbnail.kvstores.cached_db_kvstore import KVStore as CachedDBKVStore
from sorl.thumbnail.models import KVStore as KVStoreModel

from store.throttling import CACHE_ERRORS

logger = logging.getLogger("catalog.renditions")
_outage = threading.Event()


def _cache_answered(error: Exception | None) -> None:
    """One warning when the cache stops answering, one line when it is back."""
    if error is not None and not _outage.is_set():
        _outage.set()
        logger.warning("cache unavailable (%s): renditions are looked up in the database until it is back",
                       type(error).__name__)
    elif error is None and _outage.is_set():
        _outage.clear()
        logger.warning("cache available again: renditions are looked up in the cache first")


class KVStore(CachedDBKVStore):
    """sorl's cached-db store whose cache may be down (see the module's docstring)."""

    def _cache_call(self, method: str, *args, default=None):
        try:
            result = getattr(self.cache, method)(*args)
        except CACHE_ERRORS as error:
            _cache_answered(error)
            return default
        _cache_answered(None)
        return result

    def _get_raw(self, key):
        value = self._cache_call("get", key)
        if value is None:
            try:
                value = KVStoreModel.objects.get(key=key).value
            except KVStoreModel.DoesNotExist:
                value = EMPTY_VALUE  # remembered, so the next look-up reads no row
            self._cache_call("set", key, value, settings.THUMBNAIL_CACHE_TIMEOUT)
        return None if value == EMPTY_VALUE else value

    def _set_raw(self, key, value):
        features = connections[router.db_for_write(KVStoreModel)].features
        if features.supports_update_conflicts:  # one INSERT … ON CONFLICT: two makers never collide
            unique = ["key"] if features.supports_update_conflicts_with_target else None
            KVStoreModel.objects.bulk_create([KVStoreModel(key=key, value=value)], update_conflicts=True,
                                             update_fields=["value"], unique_fields=unique)
        else:
            KVStoreModel.objects.update_or_create(key=key, defaults={"value": value})
        self._cache_call("set", key, value, settings.THUMBNAIL_CACHE_TIMEOUT)

    def _delete_raw(self, *keys):
        KVStoreModel.objects.filter(key__in=keys).delete()
        for key in keys:
            self._cache_call("delete", key)

    def clear(self, delete_thumbnails=False):
        prefix = settings.THUMBNAIL_KEY_PREFIX
        for key in self._find_keys_raw(prefix):
            self._cache_call("delete", key)
        KVStoreModel.objects.filter(key__startswith=prefix).delete()
        if delete_thumbnails:
            self.delete_all_thumbnail_files()
