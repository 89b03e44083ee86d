"""EmotionHub facial-emotion analyzer plugin."""
