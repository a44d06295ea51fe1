"""Seed requests for the oip_request fuzz target: one JSON body and one binary-extension
body with every input of the committed student (two rows, one with a missing value)."""
import json
import os
import struct
import sys

artifact, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
raw = open(artifact, "rb").read()
(n,) = struct.unpack("<Q", raw[:8])
meta = json.loads(json.loads(raw[8:8 + n])["__metadata__"]["distillery"])
inputs = []
for f in meta["encoder"]["features"]:
    if f["kind"] == "numeric":
        inputs.append({"name": f["name"], "shape": [2, 1], "datatype": "FP32", "data": [1.5, 2.0]})
    else:
        inputs.append({"name": f["name"], "shape": [2, 1], "datatype": "BYTES",
                       "data": [(f.get("levels") or ["x"])[0], "?"]})
with open(os.path.join(out, "json"), "wb") as fh:
    fh.write(b"\0" + json.dumps({"inputs": inputs}).encode())
tail = b""
for i in inputs:
    if i["datatype"] == "FP32":
        tail += struct.pack("<2f", *i.pop("data"))
        i["parameters"] = {"binary_data_size": 8}
head = json.dumps({"inputs": inputs}).encode()
with open(os.path.join(out, "binary"), "wb") as fh:
    fh.write(b"\1" + struct.pack("<H", len(head)) + head + tail)
