"""Export stages: convert a trained run to TFLite/ONNX, attach the contract, verify against Keras."""
