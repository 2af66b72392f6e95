"""Typed errors of the matching core.

They subclass ``quote.errors.MitsumoriError`` so the API's single error handler and the CLI map
them like every other core error: a stable ``code``, a message a person can act on, a ``detail``
dict and the HTTP status.
"""

from __future__ import annotations

from quote.errors import MitsumoriError


class MatchingError(MitsumoriError):
    """Base of the matching errors (bad events, documents, calendars, requests)."""

    code = "matching_error"
    http_status = 422


class InvalidEvent(MatchingError):
    """A machine event that cannot be accepted (missing field, unknown value, naive time...)."""

    code = "invalid_event"


class InvalidDocument(MatchingError):
    """An MTConnect document (probe, current, sample) or SHDR text that cannot be parsed."""

    code = "invalid_mtconnect_document"


class AgentUnreachable(MatchingError):
    """The MTConnect agent did not answer (network error, HTTP error status)."""

    code = "agent_unreachable"
    http_status = 502


class AgentTimeout(AgentUnreachable):
    """The agent did not answer within a time limit (connect, read, or the whole request)."""

    code = "agent_timeout"
    http_status = 504


class InvalidCalendar(MatchingError):
    """A working calendar or booking that does not make sense (end before start, 25 h days)."""

    code = "invalid_calendar"


class InvalidBooking(MatchingError):
    code = "invalid_booking"


class InvalidQuoteRecord(MatchingError):
    """A stored quote/outcome that cannot be folded into a capability profile."""

    code = "invalid_quote_record"


class InvalidRfq(MatchingError):
    """A match request that cannot be ranked (unknown process, needed_by in the past...)."""

    code = "invalid_rfq"


class RankerNotFitted(MatchingError):
    code = "ranker_not_fitted"
    http_status = 409


class InvalidTrainingData(MatchingError, ValueError):
    """Ranking training data with the wrong shape, labels or groups.

    Also a ``ValueError``, as scikit-learn's estimator contract expects for bad ``fit`` input.
    """

    code = "invalid_training_data"
