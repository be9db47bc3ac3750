#!/usr/bin/env python3
"""Split a `perf record -g` profile of a dashload run into the request path's parts.

Reads `perf script -F comm,tid,period,ip,sym` on stdin. Each sample is filed under
the first category (in the order below) any frame of its stack matches, so a URL
parsed inside reqwest counts as URL work, not HTTP. With the number of requests
the run sent, prints each part's share of CPU and µs per request.

Usage: perf script -i perf.data -F comm,tid,period,ip,sym | bench/request_profile.py REQUESTS
"""
import re
import sys

# (category, frame pattern): first match wins, searched over the whole stack.
CATEGORIES = [
    ("redaction", r"dashload::redact::"),
    ("outside-log counters", r"dashload::target::outside_log::"),
    ("live counters and histograms", r"dashload::live::|hdrhistogram::"),
    ("request log (Goose's CSV writer)", r"goose::logger::"),
    ("Goose metrics (per-request record, aggregation)",
     r"goose::metrics::|send_request_metric_to_parent|record_custom_request_duration|"
     r"accumulate_request_by_second|flush_pending_request"),
    ("JSON check and body scan", r"dashload::target::body::"),
    ("judging the answer", r"dashload::target::response::|dashload::target::judge"),
    ("URL building and parsing", r"url::|form_urlencoded::|percent_encoding::"),
    ("query expansion (dashboard view, variables, macros)", r"dashload::workload::dashboard::"),
    ("viewer state (session data clone, choices)",
     r"get_session_data|set_session_data|ViewerState|Resolution"),
    ("HTTP client (reqwest, hyper, headers)", r"reqwest::|hyper::|hyper_util::|http::|tower"),
    ("async runtime and syscalls (tokio, kernel)", r"tokio::|\[kernel|entry_SYSCALL|epoll"),
]
COMPILED = [(name, re.compile(pattern)) for name, pattern in CATEGORIES]


def samples(lines):
    """Yield (period, [frame symbols]) per sample."""
    period, frames = None, []
    for line in lines:
        if not line.strip():
            if period is not None:
                yield period, frames
            period, frames = None, []
        elif not line.startswith("\t") and not line.startswith(" "):
            fields = line.split()
            period = int(fields[-1]) if fields[-1].isdigit() else 1
        else:
            parts = line.strip().split(None, 1)
            frames.append(parts[1] if len(parts) > 1 else "")
    if period is not None:
        yield period, frames


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    requests = int(sys.argv[1])
    totals = {name: 0 for name, _ in CATEGORIES}
    totals["other (allocator, memcpy, std)"] = 0
    total = 0
    for period, frames in samples(sys.stdin):
        total += period
        stack = "\n".join(frames)
        for name, pattern in COMPILED:
            if pattern.search(stack):
                totals[name] += period
                break
        else:
            totals["other (allocator, memcpy, std)"] += period
    if total == 0:
        sys.exit("no samples")
    print(f"{total / 1e9:.2f} CPU s sampled, {requests} requests, "
          f"{total / 1e3 / requests:.1f} µs per request")
    for name, ns in sorted(totals.items(), key=lambda kv: -kv[1]):
        print(f"{100 * ns / total:5.1f} %  {ns / 1e3 / requests:6.1f} µs/request  {name}")


if __name__ == "__main__":
    main()
