"""Post-training quantization: calibration data and ONNX Runtime int8 (TFLite's lives in the converter)."""
