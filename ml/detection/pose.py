"""A rough head-turn (yaw) estimate from BlazeFace's six keypoints, and a "turned" flag.

Expression models are trained mostly on frontal faces and fail on strongly turned heads (a
posed disgust face at 45 degrees reads as neutral), so a result should say when a face is
turned. BlazeFace gives the nose tip and both ear tragions: on a frontal face the nose sits
midway between them, and as the head turns it moves towards one ear. With the ears on a
circle around the head's vertical axis, ``sin(yaw) ~ (left gap - right gap) / (sum)``.
Checked on the benchmark's posed photos of known angle: 0 degrees -> 3.7 and -1.9, 15 ->
-13.9; past about 40 degrees the far ear is hidden, its keypoint lands behind the nose and the
estimate saturates at 90 (the 45-degree face reads -90), so only the flag is reported.
"""

from __future__ import annotations

import math

from ml.detection.faces import Face

#: |yaw| from which a face counts as turned (expression readings get unreliable).
TURNED_DEGREES = 30.0


def yaw_degrees(face: Face) -> float | None:
    """Signed yaw in degrees (positive: the nose towards the image right), or ``None`` when
    the face has no ear keypoints (MTCNN, Haar). Unreliable past about 40 degrees."""
    if face.landmarks is None or len(face.landmarks) < 6:
        return None
    nose = face.landmarks[2][0]
    left_ear, right_ear = face.landmarks[4][0], face.landmarks[5][0]
    left_gap, right_gap = nose - left_ear, right_ear - nose
    total = left_gap + right_gap
    if total <= 0:
        return None
    ratio = max(-1.0, min(1.0, (left_gap - right_gap) / total))
    return math.degrees(math.asin(ratio))


def is_turned(face: Face) -> bool | None:
    """Whether the head is turned by :data:`TURNED_DEGREES` or more (``None``: unknown)."""
    yaw = yaw_degrees(face)
    return None if yaw is None else abs(yaw) >= TURNED_DEGREES
