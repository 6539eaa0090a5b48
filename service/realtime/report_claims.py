"""Who has reported a message, across nodes: one report per user, and the threshold that hides
the message counted over every node's reports.

On one node the state's reporters refuse a second report of a user, and the report that makes
the distinct reporters reach ``moderation.report_hide_threshold`` hides the message (its event
says ``hide``). With many nodes both were per node: a user's report through node B that had not
heard of their report through node A (its envelope on its way or lost, or B restarted since)
was written again, and reports through two nodes that together reached the threshold each
counted only their own node's, so none hid the message. So before a report is written its
node claims the user's place among the message's reporters (``service.realtime.place_claims``)::

    <prefix>:reports:<message id>   user id -> "<node>|pending|<deadline ms>", then "reported"

A place held by another node is a report of that user, written or being written: refused as a
second one (409 ``conflict``). The report's ``hide`` counts the distinct reporters of the
node's state and of the hash together, places other nodes hold pending included (a report
being written elsewhere counts; if its write fails the message may have been hidden one report
early, and stays in the review queue). A review decision that clears the reporters (approve,
reject) drops the hash, so the count starts again on every node, as it does in the state. The
hash expires ``kept_seconds`` (``realtime.vote_claim_seconds``) after the message's last report.

Redis down must not stop reporting: a claim Redis does not answer is skipped (the report is
judged by the node's state alone, as on one node), logged when it starts and stops happening,
and counted in ``sideline_report_claims_skipped_total``.

One node (memory broker) has nothing to share: ``Community.reports`` is None.
"""

from __future__ import annotations

import logging

from service.realtime.place_claims import RedisPlaces
from service.realtime.redis_client import ClaimOutage

log = logging.getLogger(__name__)

REPORTED = "reported"
"""The value of a written report's place."""


class RedisReports(RedisPlaces):
    """Reporters as fields of ``<prefix>:reports:<message id>`` in the Redis the nodes share."""

    kind = "reports"
    outage = ClaimOutage(
        log, "reporting without a cross-node claim (a user's report through another node may be "
        "written again, and reports through two nodes may reach the hiding threshold without "
        "hiding; counted in sideline_report_claims_skipped_total)",
        "reports are claimed across nodes again: Redis answers",
    )  # fmt: skip
