"""The onnx format: everything edgetl does with its files but run them (the runtime backend is in ``edgetl/runtime/backends/``)."""
