"""Signed links in mails: unsubscribe and preferences (400 days) and
confirmation (7 days).  A token carries the subscriber's id and their current
nonce, never the address; the secret is given by the caller (the command line
reads it from the environment)."""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from ..errors import GazetteError
from .store import Store, Subscriber

CONFIRM_MAX_AGE = 7 * 24 * 3600

MIN_SECRET_LENGTH = 32


def check_secret(name: str, value: str) -> str:
    """A signing secret strong enough that links cannot be forged: at least 32
    characters and not a repetition of a few (e.g. `python3 -c "import secrets;
    print(secrets.token_urlsafe(32))"`)."""
    if len(value) < MIN_SECRET_LENGTH or len(set(value)) < 10:
        raise GazetteError(f"set the environment variable {name} to a random secret of at least {MIN_SECRET_LENGTH} "
                           "characters (e.g. the output of: python3 -c \"import secrets; print(secrets.token_urlsafe(32))\"): "
                           "it signs the links in emails (unsubscribe, confirm, preferences)")
    return value


# links in --dry-run messages are signed with this, which no service accepts
DRY_RUN_SECRET = "gazette-dry-run-placeholder-links-do-not-work"




LINK_MAX_AGE = 400 * 24 * 3600  # unsubscribe and preference links in mails keep working for a year and more


class Tokens:
    """Signed, expiring links.  A token carries the subscriber's id and their
    current nonce, not the address; the nonce changes on every unsubscribe and
    re-subscribe, so links from before stop working."""

    def __init__(self, secret_key: str):
        self.links = URLSafeTimedSerializer(secret_key, salt="gazette-subscriber-v2")
        self.confirms = URLSafeTimedSerializer(secret_key, salt="gazette-confirm-v2")

    def make(self, subscriber: Subscriber) -> str:
        return self.links.dumps([subscriber.id, subscriber.token_nonce])

    def make_confirm(self, subscriber: Subscriber) -> str:
        return self.confirms.dumps([subscriber.id, subscriber.token_nonce])

    def read(self, token: str, store: Store, confirm: bool = False) -> Subscriber | None:
        import hmac

        try:
            serializer, age = (self.confirms, CONFIRM_MAX_AGE) if confirm else (self.links, LINK_MAX_AGE)
            sid, nonce = serializer.loads(token, max_age=age)
        except (BadSignature, ValueError, TypeError):
            return None
        subscriber = store.get(int(sid)) if isinstance(sid, int) else None
        if subscriber is None or not isinstance(nonce, str) or not hmac.compare_digest(subscriber.token_nonce, nonce):
            return None
        return subscriber
