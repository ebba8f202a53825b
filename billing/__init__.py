"""Billing: meters, plans and subscriptions turned into invoices, economics and exports.

The query end of the pipeline. It reads the priced ledger in ClickHouse
(written by :mod:`streams`) with the SQL in ``sql/queries`` and never writes
usage; it writes only billing data (plans, subscriptions, finalized invoices).
"""
