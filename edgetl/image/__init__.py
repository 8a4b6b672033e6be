"""The image modality's plug-in parts (``edgetl.modality.IMAGE`` names them); its data, backbones and training
stage are still in ``edgetl/data``, ``edgetl/backbones`` and ``edgetl/train``."""
