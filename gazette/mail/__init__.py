"""Subscriptions: subscribers (SQLite), digests, a durable outbox, SMTP, and
the self-service web service."""
