"""Metrics of the witnesses the archive submits checkpoints to (label ``witness``: name+key id)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from archive.api.ports import Metric, MetricSource
from archive.errors import ArchiveError
from archive.ledger.witnessing import WitnessHealth

__all__ = ["witness_metrics"]


def witness_metrics(report: Callable[[], Sequence[WitnessHealth]]) -> MetricSource:
    """Per witness: the largest size it cosigned, seconds since its last cosignature (absent
    before the first), logs behind, logs whose last submission failed, failures so far, healthy."""

    def samples() -> Iterable[Metric]:
        try:
            witnesses = report()
        except ArchiveError:
            return
        for h in witnesses:
            lab = (("witness", h.label),)
            yield Metric("archive_witness_cosigned_size", "largest tree size the witness cosigned (any camera log)",
                         "gauge", h.last_size, lab)  # fmt: skip
            if h.age_s is not None:
                yield Metric("archive_witness_cosignature_age_seconds", "seconds since the witness's last stored "
                             "cosignature", "gauge", round(h.age_s, 3), lab)  # fmt: skip
            yield Metric("archive_witness_logs_behind", "camera logs whose latest checkpoint the witness has not "
                         "cosigned", "gauge", h.behind, lab)  # fmt: skip
            yield Metric("archive_witness_failing_logs", "camera logs whose last submission to the witness failed",
                         "gauge", h.failures, lab)  # fmt: skip
            yield Metric("archive_witness_failures_total", "failed submissions to the witness since the service "
                         "started", "counter", h.failures_total, lab)  # fmt: skip
            yield Metric("archive_witness_healthy", "1 when the witness cosigns (no failing log, cosigned once)",
                         "gauge", 1 if h.ok else 0, lab)  # fmt: skip

    return samples
