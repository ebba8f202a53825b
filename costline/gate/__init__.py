"""The budget gate: "may I spend about $X now?", answered from live state in the API process.

:mod:`costline.gate.reservations` holds the decision (pure), :mod:`costline.gate.feeds`
follows the budgets and the worker's live spend, :mod:`costline.gate.service` runs both.
"""
