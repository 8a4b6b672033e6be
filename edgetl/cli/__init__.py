"""Command-line interface (click); subcommands load lazily so ``edgetl --help`` imports no TensorFlow."""
