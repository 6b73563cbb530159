"""Where flash messages are kept: Django's FallbackStorage (a signed cookie, then the session),
with the cookie's signer made when a message is read or written, not for every request
(MessageMiddleware makes a storage for each one, and most have no message at all)."""
from django.contrib.messages.storage import cookie, fallback
from django.contrib.messages.storage.session import SessionStorage
from django.core import signing
from django.utils.functional import cached_property


class CookieStorage(cookie.CookieStorage):
    def __init__(self, *args, **kwargs) -> None:
        super(cookie.CookieStorage, self).__init__(*args, **kwargs)  # BaseStorage's: no signer yet

    @cached_property
    def signer(self) -> signing.Signer:
        return signing.get_cookie_signer(salt=self.key_salt)


class FallbackStorage(fallback.FallbackStorage):
    storage_classes = (CookieStorage, SessionStorage)
