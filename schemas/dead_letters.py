"""Why an event was dead-lettered: the one list of codes.

Every producer of a dead letter names one of these; the CLI, the API and
the ``dead_letters`` table derive their choices from it.
"""

from __future__ import annotations

from enum import StrEnum


class DeadLetterCode(StrEnum):
    MALFORMED_JSON = "malformed_json"  # not JSON, or JSON with duplicate keys
    INVALID_EVENT = "invalid_event"  # JSON, but not a usage event of the contract
    EMPTY_MESSAGE = "empty_message"  # an array with no events in it
    OUT_OF_BOUNDS = "out_of_bounds"  # occurred_at too old or too far ahead (settings)
    WRONG_KEY = "wrong_key"  # the Kafka key is not the event's customer_id
    UNPRICEABLE = "unpriceable"  # no price version covers it
    UNSTORABLE = "unstorable"  # ClickHouse refused the event's rows for good
