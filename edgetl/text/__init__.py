"""Text classification: a pretrained BERT-style encoder, text datasets, the text train stage."""
