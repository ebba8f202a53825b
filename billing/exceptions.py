"""The read side's root error: a billing question that cannot be answered as asked.

``costline`` reports it as one line and exit status 2 (see :mod:`costline.cli_errors`).
"""

from __future__ import annotations


class BillingError(ValueError):
    """The question cannot be answered as asked (no subscription, already final, ...)."""
