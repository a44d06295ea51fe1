"""Validates OpenLineage events (one JSON document per line, on stdin) against the spec's
own JSON Schemas: each event against OpenLineage.json's RunEvent, and each facet whose
_schemaURL names a standard facet against that facet's schema. The schemas are read from
the folder given as the only argument (the shared specs' openlineage/ folder); nothing is
fetched. Prints what it checked; exits 1 with every violation when one is found.
"""
import json
import pathlib
import sys

from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json"


def registry(folder):
    resources = []
    for path in [folder / "OpenLineage.json", *sorted((folder / "facets").glob("*.json"))]:
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def facets(node, where):
    """Every facet object (a dict carrying _schemaURL) with its path."""
    if isinstance(node, dict):
        if "_schemaURL" in node:
            yield where, node
        for key, value in node.items():
            yield from facets(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from facets(value, f"{where}/{i}")


def main():
    reg = registry(pathlib.Path(sys.argv[1]))
    check = lambda ref, doc: list(  # noqa: E731
        Draft202012Validator({"$ref": ref}, registry=reg, format_checker=FormatChecker()).iter_errors(doc)
    )
    errors, events, standard = [], 0, 0
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        event = json.loads(line)
        events += 1
        errors += [f"event {n}: {e.message} at {list(e.absolute_path)}" for e in check(f"{SPEC}#/$defs/RunEvent", event)]
        for where, facet in facets(event, ""):
            url = facet["_schemaURL"]
            if url.startswith("https://openlineage.io/spec/facets/"):
                standard += 1
                errors += [f"event {n} facet {where}: {e.message}" for e in check(url, facet)]
    if events == 0:
        errors.append("no events on stdin")
    for e in errors:
        print(e)
    print(f"validated {events} events and {standard} standard facets: {len(errors)} violations")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
