"""Text sentiment and emotion: preprocessing, language check, model, training, baselines.

Pure PyTorch/transformers, no Django: the text_sentiment plugin and the image_sentiment
plugin (for OCR text and captions) both use :mod:`ml.text.model`.
"""
