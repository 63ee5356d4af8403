"""Sample stand-in for document detection (Triton Python backend).

Input IMAGE (UINT8 [-1]): the encoded image bytes.
Output BOXES (FP32 [-1, 4]): regions as normalised [x0, y0, x1, y1]; here
always one region, the whole image.
"""
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            image = pb_utils.get_input_tensor_by_name(request, "IMAGE").as_numpy()
            if image.size == 0:
                responses.append(pb_utils.InferenceResponse(
                    error=pb_utils.TritonError("IMAGE is empty")))
                continue
            boxes = np.array([[0.0, 0.0, 1.0, 1.0]], dtype=np.float32)
            responses.append(pb_utils.InferenceResponse(
                output_tensors=[pb_utils.Tensor("BOXES", boxes)]))
        return responses
