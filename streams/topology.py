"""Every topic and table the worker uses."""

from __future__ import annotations

from streams.app import app, settings

# Keyed by customer_id at publish time, so a customer's events share one
# partition and the worker needs no repartition step.
usage_topic = app.topic(
    settings.usage_topic,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)

dead_letter_topic = app.topic(
    settings.dead_letter_topic,
    key_type=bytes,
    value_type=bytes,
    key_serializer="raw",
    value_serializer="raw",
    partitions=settings.partitions,
)

# Window aggregates: WindowKey.encode() -> WindowAggregate.encode(). Written
# once per changed key per batch, with the changelog partition set to the
# source partition of the customer (see streams.agents.TableState).
windows_table = app.Table(
    "cost-windows",
    key_type=bytes,
    value_type=bytes,
    partitions=settings.partitions,
)
# Table() takes no serializer arguments and would pick JSON; both sides are
# bytes encoded by streams.aggregation, so pass them through untouched.
for attribute in ("key_serializer", "value_serializer"):
    setattr(windows_table, attribute, "raw")
