"""The Prometheus exposition of a metrics snapshot: names, labels, values, histogram shape."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from mediaq.metrics import (
    DUPLICATES_DROPPED,
    MIB,
    RESCUES,
    VIEWS_FLUSHED,
    WAIT_BUCKETS,
    GpuSample,
    MetricsSnapshot,
    WaitHistogram,
    histogram_from_buckets,
    render,
)


def samples(snap: MetricsSnapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(render(snap).decode()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, metric: str, **labels: str) -> float:
    return found[(metric, tuple(sorted(labels.items())))]


SNAP = MetricsSnapshot(
    jobs={("cpu", "pending"): 7, ("cpu", "completed"): 40, ("gpu_ai", "running"): 2},
    queue_head_age_s={"cpu": 12.5},
    waits={"cpu": WaitHistogram((1, 3, 5, 8, 9, 10, 10, 10, 10, 10, 10, 10, 11), 345.0)},
    waiting={("gpu_ai", "RESOURCES_VRAM"): 3, ("cpu", "PRIORITY"): 4},
    hosts={"gpu-1": True, "gpu-2": False},
    gpus=(GpuSample("gpu-1", "GPU-abc", 0, "RTX 4090", 24576, 20000, 6144, 2048, True),),
    counters={RESCUES: 5, DUPLICATES_DROPPED: 9, VIEWS_FLUSHED: 1234},
    broker_messages={"mediaq.cpu": 2},
)


def test_jobs_by_class_and_status_with_zeros_for_every_pair() -> None:
    found = samples(SNAP)
    assert value(found, "mediaq_jobs", **{"class": "cpu", "status": "pending"}) == 7
    assert value(found, "mediaq_jobs", **{"class": "cpu", "status": "completed"}) == 40
    assert value(found, "mediaq_jobs", **{"class": "gpu_ai", "status": "running"}) == 2
    assert value(found, "mediaq_jobs", **{"class": "gpu_encode", "status": "failed"}) == 0
    pairs = [k for k in found if k[0] == "mediaq_jobs"]
    assert len(pairs) == 3 * 6


def test_queue_depth_head_age_and_broker() -> None:
    found = samples(SNAP)
    assert value(found, "mediaq_queue_depth", **{"class": "cpu"}) == 7
    assert value(found, "mediaq_queue_depth", **{"class": "gpu_ai"}) == 0
    assert value(found, "mediaq_queue_head_age_seconds", **{"class": "cpu"}) == 12.5
    assert value(found, "mediaq_broker_queue_messages", queue="mediaq.cpu") == 2


def test_wait_histogram_is_cumulative_with_inf_count_and_sum() -> None:
    found = samples(SNAP)
    buckets = [
        value(found, "mediaq_job_wait_seconds_bucket", **{"class": "cpu", "le": le})
        for le in [*(repr(float(b)) for b in WAIT_BUCKETS), "+Inf"]
    ]
    assert buckets == [1, 3, 5, 8, 9, 10, 10, 10, 10, 10, 10, 10, 11]
    assert value(found, "mediaq_job_wait_seconds_count", **{"class": "cpu"}) == 11
    assert value(found, "mediaq_job_wait_seconds_sum", **{"class": "cpu"}) == 345.0
    # A class with no started job still exports an (empty) histogram.
    assert value(found, "mediaq_job_wait_seconds_count", **{"class": "gpu_encode"}) == 0


def test_admissions_refused_by_reason_code() -> None:
    found = samples(SNAP)
    refused = {"class": "gpu_ai", "code": "RESOURCES_VRAM"}
    assert value(found, "mediaq_admission_refused", **refused) == 3
    assert value(found, "mediaq_admission_refused", **{"class": "cpu", "code": "PRIORITY"}) == 4


def test_vram_per_gpu_in_bytes_and_host_liveness() -> None:
    found = samples(SNAP)
    gpu = {"host": "gpu-1", "gpu": "GPU-abc", "index": "0", "name": "RTX 4090"}  # labels
    assert value(found, "mediaq_gpu_vram_total_bytes", **gpu) == 24576 * MIB
    assert value(found, "mediaq_gpu_vram_free_bytes", **gpu) == 20000 * MIB
    assert value(found, "mediaq_gpu_vram_reserved_bytes", **gpu) == 6144 * MIB
    assert value(found, "mediaq_gpu_vram_foreign_bytes", **gpu) == 2048 * MIB
    assert value(found, "mediaq_gpu_healthy", **gpu) == 1
    assert value(found, "mediaq_worker_host_up", host="gpu-1") == 1
    assert value(found, "mediaq_worker_host_up", host="gpu-2") == 0


def test_event_counters_are_prometheus_counters() -> None:
    found = samples(SNAP)
    assert value(found, "mediaq_rescues_total") == 5
    assert value(found, "mediaq_duplicate_deliveries_dropped_total") == 9
    assert value(found, "mediaq_views_flushed_total") == 1234
    text = render(SNAP).decode()
    assert "# TYPE mediaq_rescues_total counter" in text


def test_empty_snapshot_renders_every_family() -> None:
    found = samples(MetricsSnapshot())
    assert value(found, "mediaq_rescues_total") == 0
    assert value(found, "mediaq_queue_depth", **{"class": "gpu_encode"}) == 0


def test_histogram_from_bucket_groups_is_cumulative() -> None:
    # (first bucket holding the value, count, sum): 2 waits <= 0.1 s, 1 <= 5 s, 1 over 4 h.
    hist = histogram_from_buckets([(0, 2, 0.1), (4, 1, 4.0), (len(WAIT_BUCKETS), 1, 20000.0)])
    assert hist.cumulative == (2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 4)
    assert hist.sum_s == 20004.1
    assert histogram_from_buckets([]).cumulative == (0,) * (len(WAIT_BUCKETS) + 1)
