"""Billing: meters, plans and subscriptions turned into invoices, economics and exports.

The query end of the pipeline. It reads the priced ledger in ClickHouse
(written by :mod:`streams`) with the SQL in ``sql/queries`` and never writes
usage; it writes only billing data (plans, subscriptions, finalized invoices).

Each module has one role; reading ClickHouse, computing and rendering never
share a module, and argv and printing belong to :mod:`costline.cli`:

- periods: a UTC month (``Period``) and the days a subscription covers
- costs: cost queries, one customer's costs and every customer's summary
- store: billing data (meters, plans, customers, subscriptions, credits)
- meters: meter values from the ledger, per customer and day
- rating: a plan version and its usage to priced lines (pure)
- invoices: drafts, finalized invoices and adjustments for late usage
- economics: unit economics figures, margin to break-even (pure)
- economics_store: what those figures are computed from, read from ClickHouse
- exports: usage and invoice-line rows, Stripe meter events, and their files
- render: every renderer (invoices, cost rows, unit economics)
- exceptions: ``BillingError``, the read side's root error
"""
