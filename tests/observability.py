"""What the operations tests read back: a server's log lines and its Prometheus samples."""

from __future__ import annotations

import re

from prometheus_client.parser import text_string_to_metric_families

#: A text log line: time, level, logger, ``key=value`` fields, message.
LINE = re.compile(r"^(\S+Z) (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+)((?: \w+=\S+)*) (.*)$")


def samples(text: str) -> dict[str, float]:
    """Every sample of a Prometheus answer, by name and labels ("name{a=b}")."""
    out: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out
