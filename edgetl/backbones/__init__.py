"""Backbone specs (data, no TensorFlow) and the Keras builder (imported lazily)."""
