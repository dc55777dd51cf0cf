"""The per-poll figures kept as plain numbers scrape exactly as prometheus_client's own metrics would."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Counter, Histogram

from edge.metrics import _LATENESS_BUCKETS, Metrics


def _samples(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in registry.collect()
        for s in m.samples
        if not s.name.endswith("_created")
    }


def test_poll_figures_scrape_as_prometheus_client_metrics() -> None:
    rng = random.Random(19)
    ours = Metrics()
    ref = CollectorRegistry()
    polls = Counter("pc_edge_polls", "d", ["result"], registry=ref)
    requests = Counter("pc_edge_modbus_requests", "d", registry=ref)
    lateness = Histogram("pc_edge_poll_lateness_seconds", "d", buckets=_LATENESS_BUCKETS, registry=ref)
    latency = Histogram("pc_edge_publish_latency_seconds", "d", buckets=_LATENESS_BUCKETS, registry=ref)
    values = [rng.choice(_LATENESS_BUCKETS) for _ in range(50)] + [rng.uniform(0, 12) for _ in range(500)] + [0.0]
    for v in values:  # bounds themselves included: a bucket counts values <= its bound
        result = rng.choice(("ok", "partial", "failed"))
        n = rng.randint(1, 4)
        ours.polls_by_result[result].inc()
        polls.labels(result).inc()
        ours.requests.inc(n)
        requests.inc(n)
        ours.observe_lateness(v)
        lateness.observe(v)
        ours.publish_latency.observe(v / 3)
        latency.observe(v / 3)
    for r in ("ok", "partial", "failed"):
        polls.labels(r)  # present at zero in ours too
    expected = _samples(ref)
    ours_names = ("pc_edge_polls", "pc_edge_modbus_requests", "pc_edge_poll_lateness", "pc_edge_publish_latency")
    got = {k: v for k, v in _samples(ours.registry).items() if k[0].startswith(ours_names)}
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert abs(got[k] - v) <= 1e-9 * max(1.0, abs(v)), k
