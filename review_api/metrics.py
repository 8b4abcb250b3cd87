"""Prometheus metrics: counters the API keeps, and gauges read from the store at scrape."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from review_api.store.db import Store
from review_api.store.models import OutboxEmail, Proposal


class StoreCollector(Collector):
    """Proposals by state and kind, and outbox emails by state, counted at scrape time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        proposals = GaugeMetricFamily("leadloop_proposals", "Proposals by state and kind.",
                                      labels=["state", "kind"])
        outbox = GaugeMetricFamily("leadloop_outbox_emails", "Outbox emails by state.",
                                   labels=["state"])
        with self.store.session() as session:
            for state, kind, n in session.execute(
                select(Proposal.state, Proposal.kind, func.count())
                .group_by(Proposal.state, Proposal.kind)
            ):
                proposals.add_metric([state, kind], n)
            for state, n in session.execute(
                select(OutboxEmail.state, func.count()).group_by(OutboxEmail.state)
            ):
                outbox.add_metric([state], n)
        yield proposals
        yield outbox


class ApiMetrics:
    """The metrics of one API app, in a registry of its own."""

    def __init__(self, store: Store) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(StoreCollector(store))
        self.decisions = Counter("leadloop_api_decisions", "Decisions taken through the API.",
                                 ["decision", "kind"], registry=self.registry)
        self.decision_latency = Histogram(
            "leadloop_decision_latency_seconds", "From proposal to decision.",
            buckets=(60, 600, 3600, 4 * 3600, 24 * 3600, 3 * 24 * 3600, 7 * 24 * 3600),
            registry=self.registry)
        self.webhook_rejections = Counter(
            "leadloop_webhook_rejections", "Webhook calls refused.", ["source", "reason"],
            registry=self.registry)
        self.auth_failures = Counter("leadloop_api_auth_failures",
                                     "Requests refused for a missing, wrong or revoked key.",
                                     registry=self.registry)
