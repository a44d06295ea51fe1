"""Scrapes a distillery server's /metrics and parses it with the official Prometheus
Python client's parser, printing every family as JSON: the exposition must be valid text
format 0.0.4 for a real scraper, not just look right to a substring check.

usage: scrape_metrics.py http://host:port/metrics
"""

import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

text = urllib.request.urlopen(sys.argv[1]).read().decode()
families = {}
for family in text_string_to_metric_families(text):
    families[family.name] = {
        "type": family.type,
        "help": family.documentation,
        "samples": [
            {"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples
        ],
    }
print(json.dumps(families))
