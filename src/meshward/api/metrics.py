"""Prometheus text exposition (format 0.0.4) of request counts and latencies per route,
written by hand: a few counters do not need a client library."""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count: dict[tuple[str, str, str], int] = defaultdict(int)
        self._buckets: dict[tuple[str, str], list[int]] = {}
        self._sum: dict[tuple[str, str], float] = defaultdict(float)
        self._n: dict[tuple[str, str], int] = defaultdict(int)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._count[(method, route, str(status))] += 1
            key = (method, route)
            counts = self._buckets.setdefault(key, [0] * len(BUCKETS))
            for i, bound in enumerate(BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            self._sum[key] += seconds
            self._n[key] += 1

    def render(self) -> str:
        lines = [
            "# HELP meshward_http_requests_total HTTP requests by method, route and status.",
            "# TYPE meshward_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), n in sorted(self._count.items()):
                lines.append(
                    f'meshward_http_requests_total{{method="{method}",route="{_label(route)}",'
                    f'status="{status}"}} {n}'
                )
            lines += [
                "# HELP meshward_http_request_duration_seconds HTTP request latency.",
                "# TYPE meshward_http_request_duration_seconds histogram",
            ]
            for (method, route), counts in sorted(self._buckets.items()):
                labels = f'method="{method}",route="{_label(route)}"'
                bucket = "meshward_http_request_duration_seconds_bucket"
                for bound, n in zip(BUCKETS, counts, strict=True):
                    lines.append(f'{bucket}{{{labels},le="{bound}"}} {n}')
                total = self._n[(method, route)]
                lines.append(
                    f'meshward_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {total}'
                )
                lines.append(
                    f"meshward_http_request_duration_seconds_sum{{{labels}}} "
                    f"{self._sum[(method, route)]:.6f}"
                )
                lines.append(f"meshward_http_request_duration_seconds_count{{{labels}}} {total}")
        return "\n".join(lines) + "\n"
