"""Alert subscriptions, the transactional outbox and its sender (issue #6)."""
