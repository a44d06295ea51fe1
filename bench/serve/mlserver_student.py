"""MLServer runtime for the peer benchmark (bench/serve.sh): the same exported student
(student.onnx, encoder in the graph) run by onnxruntime inside MLServer, answering the same
Open Inference Protocol request with the same outputs as `distillery serve`
(`probabilities` FP32 [n, k] and `label` BYTES [n])."""

import json

import numpy as np
import onnxruntime as ort
from mlserver import MLModel
from mlserver.types import InferenceRequest, InferenceResponse, ResponseOutput


class OnnxStudent(MLModel):
    async def load(self) -> bool:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(
            self.settings.parameters.uri, options, providers=["CPUExecutionProvider"]
        )
        self.types = {i.name: i.type for i in self.session.get_inputs()}
        meta = self.session.get_modelmeta().custom_metadata_map
        self.classes = json.loads(meta["distillery.classes"])
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        feeds = {}
        for tensor in payload.inputs:
            values = tensor.data.root if hasattr(tensor.data, "root") else tensor.data
            if self.types[tensor.name] == "tensor(string)":
                cells = [v.decode() if isinstance(v, bytes) else ("" if v is None else str(v)) for v in values]
                feeds[tensor.name] = np.array(cells, dtype=object).reshape(-1, 1)
            else:
                cells = [np.nan if v is None else v for v in values]
                feeds[tensor.name] = np.array(cells, dtype=np.float32).reshape(-1, 1)
        probabilities = self.session.run(["probabilities"], feeds)[0]
        best = probabilities.argmax(axis=1)
        labels = [self.classes[i] for i in best]
        return InferenceResponse(
            model_name=self.name,
            id=payload.id,
            outputs=[
                ResponseOutput(
                    name="probabilities",
                    shape=list(probabilities.shape),
                    datatype="FP32",
                    data=probabilities.ravel().tolist(),
                ),
                ResponseOutput(name="label", shape=[len(labels)], datatype="BYTES", data=labels),
            ],
        )
