"""Sample stand-in for text recognition (Triton Python backend).

Inputs IMAGE (UINT8 [-1]) and BOXES (FP32 [-1, 4]).
Output TEXT (BYTES [-1]): one string per region.
"""
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            image = pb_utils.get_input_tensor_by_name(request, "IMAGE").as_numpy()
            boxes = pb_utils.get_input_tensor_by_name(request, "BOXES").as_numpy()
            text = np.array(
                ["region %d of a %d-byte image" % (i, image.size) for i in range(len(boxes))],
                dtype=np.object_)
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("TEXT", text)]))
        return responses
