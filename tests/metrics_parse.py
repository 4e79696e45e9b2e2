"""Parses a Prometheus text exposition from stdin with prometheus_client (tests/metrics.rs).

Prints one JSON object: family name -> {"type", "samples": [[name, labels, value], ...]}.
A malformed exposition raises, and the non-zero exit fails the test.
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

families = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    if family.name in families:
        raise SystemExit(f"family {family.name} twice")
    families[family.name] = {
        "type": family.type,
        "help": family.documentation,
        "samples": [[s.name, s.labels, s.value] for s in family.samples],
    }
json.dump(families, sys.stdout)
