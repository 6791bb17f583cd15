"""How long a dossier keeps asking the systems it depends on."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# The read model must never be skipped: retry until it answers. A retried write is safe, as the read model skips a
# transition whose sequence number it has recorded already. Calendar arithmetic, which shows nothing, uses the same
# rule.
READ_MODEL_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))
# Agency systems fail for hours at times: a dossier waits, never fails. Refusals are business answers.
AGENCY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=2),
    non_retryable_error_types=["AgencyRefused"],
)
