"""Forwarding of the committed log to Segment, Mixpanel, GA4 and the Parquet warehouse.

Start at :mod:`service.sinks.forwarder` (the service's entry point) and
:mod:`service.sinks.base` (the sink port); ``docs/forwarding.md`` describes the guarantees.
"""
