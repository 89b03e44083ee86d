"""One emotion vocabulary for the dashboards, onto which every analyzer's labels map.

The face analyzers label expressions with FER2013's seven classes (``angry disgust fear
happy neutral sad surprise``); text_sentiment labels texts with TweetEval's four emotions
(``anger joy optimism sadness``). Charted side by side they read as different emotions
("happy" and "joy"), so the Emotions chart counts the **common set** below. Mapping:

===========  ==================  ========================
common       faces (FER2013)     text (TweetEval)
===========  ==================  ========================
anger        angry               anger
disgust      disgust             (none)
fear         fear                (none)
joy          happy               joy, optimism
sadness      sad                 sadness
surprise     surprise            (none)
neutral      neutral             (none)
===========  ==================  ========================

``optimism`` (a positive outlook) has no face counterpart; it is counted as joy, its
nearest neighbour in valence. Texts cannot be disgust, fear, surprise or neutral in
TweetEval's set, and faces cannot be optimism: the per-modality breakdown under the chart
shows each analyzer's own labels so that these differences stay visible. A label no
mapping knows (a third-party plugin's) is charted under its own name.
"""

from __future__ import annotations

COMMON_EMOTIONS = ("anger", "disgust", "fear", "joy", "sadness", "surprise", "neutral")
TO_COMMON = {
    # FER2013 expressions (facial_emotion, and faces inside image_sentiment)
    "angry": "anger",
    "disgust": "disgust",
    "fear": "fear",
    "happy": "joy",
    "sad": "sadness",
    "surprise": "surprise",
    "neutral": "neutral",
    # TweetEval emotions (text_sentiment)
    "anger": "anger",
    "joy": "joy",
    "optimism": "joy",
    "sadness": "sadness",
}


def common_emotion(label: str) -> str:
    """The common-set name of an analyzer's emotion label (unknown labels unchanged)."""
    return TO_COMMON.get(label, label)
