"""EmotionHub machine-learning code: pure PyTorch, never imports Django.

Kept separate from the server so that training and evaluation can run on a bare
machine with only torch, numpy and Pillow installed.
"""
