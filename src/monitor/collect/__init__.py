"""Sources that produce post records: Telegram Desktop exports, Telethon, the t.me web preview."""
