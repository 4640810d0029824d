"""What a verification found: each failure naming its record, at most MAX_FAILURES of them."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_FAILURES = 200  # past this the report says how many more, not each


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    entries: int = 0
    checkpoints: int = 0
    files: int = 0
    more: int = 0

    def fail(self, message: str) -> None:
        if len(self.failures) < MAX_FAILURES:
            self.failures.append(message)
        else:
            self.more += 1

    @property
    def ok(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        out = list(self.failures)
        if self.more:
            out.append(f"… and {self.more} more failures")
        return out
