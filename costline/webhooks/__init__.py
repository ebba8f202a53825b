"""Alerts delivered to HTTP endpoints: signed, retried with backoff, once per alert id.

``costline webhooks run`` reads the alerts topic, queues one delivery per
(endpoint, alert) in ClickHouse and posts each until the receiver answers
2xx, a permanent refusal, or the retry period runs out. Receivers dedup by
the alert id (the ``Costline-Alert-Id`` header, also in the body): a
delivery may be repeated after a crash between the post and its record.
"""
