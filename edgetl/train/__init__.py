"""Training: cached backbone features, the head, fine-tuning strategies and the train stage."""
