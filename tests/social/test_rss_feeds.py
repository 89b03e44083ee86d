"""RSS/Atom on real-shaped feeds (tests/social/fixtures): inline images, Media RSS without
type, relative links and xml:base, hostile markup, long entry ids; the HTML helper and the
feed parser fuzzed with Hypothesis."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from emotionhub.core.http import SafeClient
from emotionhub.social import runs
from emotionhub.social.connectors import clean_config
from emotionhub.social.connectors.base import MalformedPayload, html_image_urls, html_to_text
from emotionhub.social.connectors.rss import RssConnector, parse_feed
from emotionhub.social.models import Post, RunStatus
from tests.social.conftest import Reply, make_source

FIXTURES = Path(__file__).parent / "fixtures"


def serve(upstream, path: str, fixture: str, content_type: str = "application/rss+xml") -> dict:
    upstream.routes[path] = Reply(body=(FIXTURES / fixture).read_bytes(), content_type=content_type)
    return clean_config("rss", {"url": upstream.url + path})


def fetch(config: dict):
    with SafeClient() as client:
        return RssConnector().fetch(client, config, {}, limit=50)


def test_inline_images_in_content_and_summary_are_found_and_resolved(upstream):
    config = serve(upstream, "/feed/", "wordpress_inline_images.rss")
    (entry,) = fetch(config).items
    site = upstream.url
    assert entry.image_urls == [
        f"{site}/wp-content/uploads/2026/11/recipe.jpg",  # the enclosure first
        f"{site}/wp-content/uploads/2026/11/loaf-1024x683.jpg",  # content:encoded, in order
        "https://cdn.bakery.example/queue.png",
        f"{site}/wp-content/uploads/2026/11/loaf-150x150.jpg",  # the summary's thumbnail
    ]  # the 1x1 tracking pixel is left out
    assert entry.url == f"{site}/2026/11/02/new-sourdough/"
    title = "Our new sourdough \u2013 a customer favourite"
    assert entry.text.startswith(f"{title}\n\nCustomers loved it.")
    assert entry.author == "Mia"
    assert entry.external_id == "/?p=4711"  # ids stay as written: stored posts keep theirs


def test_media_content_without_type_or_medium_is_an_image_unless_named_otherwise(upstream):
    config = serve(upstream, "/blog/feed/", "media_content_untyped.rss")
    (entry,) = fetch(config).items
    assert entry.image_urls == ["https://cloud.example/blog/images/faster-queues-hero.png"]


def test_xml_base_and_relative_links_resolve_against_the_feed_after_redirects(upstream):
    serve(upstream, "/moved/feed.atom", "atom_xml_base.atom", "application/atom+xml")
    upstream.routes["/feed.atom"] = Reply(301, b"", {"Location": "/moved/feed.atom"})
    (entry,) = fetch(clean_config("rss", {"url": upstream.url + "/feed.atom"})).items
    # The fixture's xml:base is absolute (https://journal.example/), then posts/2026/.
    assert entry.url == "https://journal.example/posts/2026/seven.html"
    assert entry.image_urls == [
        "https://journal.example/posts/2026/seven/cover.jpg",
        "https://journal.example/posts/2026/seven/inline.png",
    ]
    # Without an absolute xml:base the base is the URL the feed came from.
    body = (FIXTURES / "atom_xml_base.atom").read_text()
    body = body.replace(' xml:base="https://journal.example/"', "")
    upstream.routes["/moved/feed.atom"] = Reply(body=body, content_type="application/atom+xml")
    (entry,) = fetch(clean_config("rss", {"url": upstream.url + "/feed.atom"})).items
    assert entry.url == f"{upstream.url}/moved/posts/2026/seven.html"
    assert entry.image_urls[0] == f"{upstream.url}/moved/posts/2026/seven/cover.jpg"


def test_html_helper_keeps_text_around_a_bogus_marked_section():
    assert html_to_text("arr<![1]> tricks") == "arr<![1]> tricks"
    assert html_to_text("<p>x <![if !IE]>y<![endif]></p>") == "x y"
    assert html_to_text("a<![CDATA[b]]>c") == "ac"


RSS_WITH = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}
</channel></rss>"""


@pytest.mark.django_db
def test_a_title_with_a_bogus_marked_section_no_longer_fails_the_feed(alice, upstream):
    upstream.routes["/feed"] = Reply(
        body=RSS_WITH.format(
            items="<item><guid>a</guid><title>arr&lt;![1]&gt; tricks</title></item>"
            "<item><guid>b</guid><title>fine</title></item>"
        ),
        content_type="application/rss+xml",
    )
    source = make_source(alice.tenant, "rss", {"url": upstream.url + "/feed"})
    run = runs.fetch_source(str(source.pk))
    assert run.status == RunStatus.SUCCEEDED, run.error_message
    assert sorted(Post.objects.filter(source=source).values_list("text", flat=True)) == [
        "arr<![1]> tricks",
        "fine",
    ]


@pytest.mark.django_db
def test_long_entry_ids_that_differ_at_the_end_are_two_posts(alice, upstream):
    stem = "https://news.example/articles?" + "x" * 300
    upstream.routes["/feed"] = Reply(
        body=RSS_WITH.format(
            items=f"<item><guid>{stem}&amp;a=1</guid><title>one</title></item>"
            f"<item><guid>{stem}&amp;a=2</guid><title>two</title></item>"
        ),
        content_type="application/rss+xml",
    )
    source = make_source(alice.tenant, "rss", {"url": upstream.url + "/feed"})
    run = runs.fetch_source(str(source.pk))
    assert (run.new, run.duplicate) == (2, 0)
    ids = list(Post.objects.filter(source=source).values_list("external_id", flat=True))
    assert len(set(ids)) == 2 and all(i.startswith("sha256:") for i in ids)
    again = runs.fetch_source(str(source.pk))
    assert (again.new, again.duplicate) == (0, 2)


# --- fuzzing --------------------------------------------------------------------------------

# Markup built from the pieces parsers trip on: declarations, marked sections, bare "<",
# unterminated tags and entities, NUL and a lone surrogate.
PIECES = [
    "<![", "<!", "<?", "</", "<", ">", "]]>", "]>", "[", "CDATA[", "if ", "1", "x", " ", "\n",
    "<img src=", "'", '"', "&", "&#", "&#x", ";", "<p>", "<script>", "--", "=", "\x00", "\ud800",
]  # fmt: skip
MARKUP = st.lists(st.sampled_from(PIECES), max_size=30).map("".join)
FUZZ = hypothesis_settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@FUZZ
@given(st.one_of(st.text(max_size=200), MARKUP))
def test_html_helpers_never_raise(markup):
    assert isinstance(html_to_text(markup), str)
    assert all(isinstance(u, str) for u in html_image_urls("<img " + markup))


def _xml_text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@FUZZ
@given(
    title=st.one_of(st.text(max_size=60), MARKUP),
    description=st.one_of(st.text(max_size=120), MARKUP),
    guid=st.text(min_size=0, max_size=400),
    link=st.text(max_size=40),
    raw=st.binary(max_size=200),
)
def test_feed_parsing_never_raises_anything_but_malformed_payload(
    title, description, guid, link, raw
):
    item = (
        f"<item><guid>{_xml_text(guid)}</guid><title>{_xml_text(title)}</title>"
        f"<link>{_xml_text(link)}</link><description>{_xml_text(description)}</description>"
        f'<media:content url="{_xml_text(link)}"/></item>'
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:media="http://search.yahoo.com/mrss/"><channel><title>t</title>'
        f"{item}</channel></rss>"
    ).encode("utf-8", "surrogatepass")
    for document in (body, raw, body[: len(body) // 2] + raw):
        try:
            entries = parse_feed(document, "https://feeds.example/a/feed.xml")
        except MalformedPayload:
            continue
        for entry in entries:
            assert isinstance(entry.text, str) and isinstance(entry.external_id, str)
            assert all(u.startswith(("http://", "https://")) for u in entry.image_urls)
