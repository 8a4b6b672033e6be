"""Converters from the trained Keras model to TFLite and ONNX (TensorFlow imported lazily)."""
