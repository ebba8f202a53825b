"""Every topic and table the worker uses."""

from __future__ import annotations

import streams.group_membership  # noqa: F401 - a restart need not wait out a killed worker's session
from costline.kafka import CHANGELOG_CONFIG, WINDOWS_TABLE
from streams.app import app, settings
from streams.changelog_store import URL as RESTORING_STORE

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
# source partition of the customer (see streams.window_state.TableState).
# Its changelog really compacts (costline.kafka.CHANGELOG_CONFIG) and is
# restored by a plain consumer (streams.changelog_store), so a restart reads
# the live windows, not all of history, and at consumer speed.
windows_table = app.Table(
    WINDOWS_TABLE,
    key_type=bytes,
    value_type=bytes,
    partitions=settings.partitions,
    store=RESTORING_STORE,
    extra_topic_configs=CHANGELOG_CONFIG,
)
# Table() takes no serializer arguments and would pick JSON; both sides are
# bytes encoded by streams.aggregation, so pass them through untouched.
for attribute in ("key_serializer", "value_serializer"):
    setattr(windows_table, attribute, "raw")

# Budget spend and task tallies (streams.spend_control.TableSpend), written
# the same way as the windows: through the store, changelogged to the
# customer's source partition.
spend_table = app.Table(
    "budget-spend",
    key_type=bytes,
    value_type=bytes,
    partitions=settings.partitions,
    store="costline-memory://spend",
    extra_topic_configs=CHANGELOG_CONFIG,
)
for attribute in ("key_serializer", "value_serializer"):
    setattr(spend_table, attribute, "raw")
