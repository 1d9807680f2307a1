"""Manual ledger adjustments (issue 14): values (refusals, the DTO, the checked request) and the
service (request, approve, reject, cancel, listings). See service.py for the rules."""

from services.adjustments.service import AdjustmentService
from services.adjustments.values import (
    DEFAULT_SECOND_ADMIN_ABOVE,
    INPUT_REFUSALS,
    MAX_AMOUNT,
    MAX_DOCUMENT_REF,
    MAX_REASON,
    AdjustmentDTO,
    AdjustmentError,
    AdjustmentInput,
    AdjustmentOutcome,
    AdjustmentRefusal,
    checked_input,
    parse_amount,
)

__all__ = [
    "DEFAULT_SECOND_ADMIN_ABOVE",
    "INPUT_REFUSALS",
    "MAX_AMOUNT",
    "MAX_DOCUMENT_REF",
    "MAX_REASON",
    "AdjustmentDTO",
    "AdjustmentError",
    "AdjustmentInput",
    "AdjustmentOutcome",
    "AdjustmentRefusal",
    "AdjustmentService",
    "checked_input",
    "parse_amount",
]
