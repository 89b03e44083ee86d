"""Tweet normalisation and language identification on real-world-shaped text."""

from __future__ import annotations

import pytest

pytest.importorskip("emoji")
pytest.importorskip("py3langid")

from ml.text.language import detect_language
from ml.text.preprocess import letters_only, normalize


def test_urls_mentions_hashtags_and_emoji_are_rewritten_and_counted():
    n = normalize("Loving it 😂😂 #blessed @bob_99 see https://t.co/AbC and www.x.org!")
    assert n.text == (
        "Loving it face with tears of joy face with tears of joy blessed @user see http and http !"
    )
    assert (n.urls, n.mentions, n.hashtags, n.emoji) == (2, 1, ["blessed"], ["😂", "😂"])


def test_email_addresses_and_inner_hashes_are_not_mentions_or_tags():
    n = normalize("mail me at ann@example.com about issue#4")
    assert n.mentions == 0 and n.hashtags == []
    assert "ann@example.com" in n.text


def test_letters_only_drops_everything_language_id_cannot_use():
    assert letters_only("@user 😂 great #day http://x.y/z") == "great day"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("I really love this phone, best purchase of the year", "en"),
        ("Je déteste ce téléphone, il est vraiment nul et lent", "fr"),
        ("Das ist ein schrecklicher Tag für uns alle gewesen", "de"),
        ("Este servicio es terrible, nunca vuelvo a comprar aquí", "es"),
    ],
)
def test_sentences_get_their_language(text, code):
    lang = detect_language(text)
    assert (lang.code, lang.reliable) == (code, True)
    assert lang.is_english == (code == "en")


@pytest.mark.parametrize("text", ["ok", "lol @user http", "😂😂😂"])
def test_too_little_text_is_marked_unreliable_and_treated_as_english(text):
    lang = detect_language(text)
    assert not lang.reliable and lang.is_english
