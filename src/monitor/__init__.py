"""monitor: flags escalation signals in public Telegram channels of Iraqi militias."""

__version__ = "0.1.0"
