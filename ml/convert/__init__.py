"""Convert-time tools: read third-party model files once and write our own weights.

Nothing here is imported at run time; these modules may need development-only packages
(``tflite``, the flatbuffer schema reader) that a worker never installs.
"""
