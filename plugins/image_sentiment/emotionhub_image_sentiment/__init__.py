"""EmotionHub image sentiment analyzer plugin: faces + OCR text + caption, fused."""
