"""EmotionHub text sentiment analyzer plugin (model code in ``ml.text``)."""
