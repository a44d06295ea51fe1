"""Validates the Kubernetes manifests in deploy/kubernetes offline.

Built-in kinds (Deployment, Service, HorizontalPodAutoscaler, PodDisruptionBudget, ...) are
checked with kubernetes-validate in strict mode (unknown fields are errors). KServe kinds
(ServingRuntime, InferenceService) are checked against the openAPIV3Schema of the KServe
CRDs in the given specs folder, also strictly: a field the schema does not declare, where
Kubernetes would prune it silently, is an error.

Usage: validate_manifests.py DEPLOY_DIR KSERVE_SPECS_DIR
Prints one line per resource and exits 1 on the first invalid one; then, for every
container that runs `distillery serve`, a line `args [...]` (JSON) so the caller can check
the flags against the binary.
"""
import copy
import glob
import json
import os
import sys

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.33.0"


def strict(schema):
    """The schema with `additionalProperties: false` wherever it lists properties and does
    not keep unknown fields, as Kubernetes' structural pruning would drop them."""
    schema = copy.deepcopy(schema)
    for node in objects(schema):
        if (
            "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
    return schema


def objects(node):
    """Every mapping in a nested document, outermost first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from objects(value)
    elif isinstance(node, list):
        for value in node:
            yield from objects(value)


def crd_schemas(specs):
    """(group/version, kind) -> the CRD's openAPIV3Schema, made strict."""
    schemas = {}
    for path in glob.glob(os.path.join(specs, "serving.kserve.io_*.yaml")):
        with open(path) as fh:
            crd = yaml.safe_load(fh)
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = version["schema"]["openAPIV3Schema"]
            # metadata is an ObjectMeta that the CRD leaves open; the API server checks it.
            schema.get("properties", {}).pop("metadata", None)
            schemas[(f"{group}/{version['name']}", kind)] = strict(schema)
    return schemas


def main():
    deploy, specs = sys.argv[1], sys.argv[2]
    schemas = crd_schemas(specs)
    if not schemas:
        sys.exit(f"no KServe CRDs under {specs}")
    checked = 0
    commands = []
    for path in sorted(glob.glob(os.path.join(deploy, "**", "*.yaml"), recursive=True)):
        with open(path) as fh:
            documents = [d for d in yaml.safe_load_all(fh) if d]
        for doc in documents:
            what = f"{os.path.relpath(path, deploy)}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
            key = (doc.get("apiVersion"), doc.get("kind"))
            try:
                if key in schemas:
                    body = {k: v for k, v in doc.items() if k != "metadata"}
                    jsonschema.validate(body, schemas[key])
                    how = "KServe CRD schema"
                elif doc.get("apiVersion", "").startswith("serving.kserve.io/"):
                    raise ValueError(f"no CRD schema for {key}")
                else:
                    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
                    how = f"Kubernetes {KUBERNETES_VERSION}"
            except Exception as e:  # noqa: BLE001 - report whatever the validators raise
                print(f"INVALID {what}: {getattr(e, 'message', e)}")
                sys.exit(1)
            print(f"valid {what} ({how})")
            checked += 1
            commands += serve_args(doc)
    if checked == 0:
        sys.exit(f"no manifests under {deploy}")
    print(f"{checked} resources valid")
    for args in commands:
        print("args " + json.dumps(args))


def serve_args(doc):
    """The argument lists of the document's containers that run `distillery serve`."""
    return [
        node["args"]
        for node in objects(doc)
        if "image" in node and isinstance(node.get("args"), list) and node["args"][:1] == ["serve"]
    ]


if __name__ == "__main__":
    main()
