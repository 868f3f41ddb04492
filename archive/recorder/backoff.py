"""Capped exponential backoff, shared by the supervisor (reconnects) and the ingester (retries)."""

from __future__ import annotations

from dataclasses import dataclass

from archive.errors import ConfigError


@dataclass(frozen=True)
class Backoff:
    """Delay before attempt ``n`` (1-based): ``initial * factor**(n-1)``, at most ``maximum`` seconds.

    Raises :class:`ConfigError` for non-positive values or ``factor < 1``.
    """

    initial: float
    maximum: float
    factor: float = 2.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.factor < 1:
            raise ConfigError(
                f"backoff needs 0 < initial <= maximum and factor >= 1 (got {self.initial}, {self.maximum}, "
                f"{self.factor})"
            )

    def delay(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (1 = first retry)."""
        exponent = min(max(attempt, 1) - 1, 64)
        return float(min(self.maximum, self.initial * self.factor**exponent))
