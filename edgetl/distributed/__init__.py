"""Heavy stages on more than one machine: backbone features computed by Ray actors (``edgetl[distributed]``)."""
