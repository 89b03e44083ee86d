"""Start-up validation of plugins, the OpenAPI schema, and the management commands."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from emotionhub.analyzers.checks import check_analyzers
from tests.conftest import png_bytes


def error_messages(errors):
    return [error.msg for error in errors]


def test_enabled_test_plugins_pass_the_check():
    assert check_analyzers() == []


def test_bad_plugin_spec_fails_the_check(settings):
    settings.EMOTIONHUB_ANALYZERS = ["example", "bad_spec"]
    messages = error_messages(check_analyzers())
    assert any("'bad_spec' media_kinds" in m for m in messages)
    assert any("'bad_spec' max_batch_size" in m for m in messages)
    assert any("'bad_spec' result_schema is not a valid JSON Schema" in m for m in messages)
    assert not any("'example'" in m for m in messages)


def test_allow_listed_but_missing_plugin_fails_the_check(settings):
    settings.EMOTIONHUB_ANALYZERS = ["example", "not_installed"]
    errors = check_analyzers()
    assert [e.id for e in errors] == ["emotionhub.E001"]


def test_manage_py_check_fails_on_bad_plugin(settings):
    settings.EMOTIONHUB_ANALYZERS = ["bad_spec"]
    with pytest.raises(Exception, match="bad_spec"):
        call_command("check")


def test_openapi_schema_is_valid(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    for path in ["/api/v1/submissions/", "/api/v1/jobs/{id}/", "/api/v1/health"]:
        assert f"{path}:" in text


@pytest.mark.django_db
def test_docs_page_is_served_without_cdn(client):
    response = client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"cdn.jsdelivr" not in response.content


def test_analyze_files_prints_json(tmp_path, capsys):
    image = tmp_path / "a.png"
    image.write_bytes(png_bytes(size=(30, 20)))
    text = tmp_path / "note.txt"
    text.write_text("three small words")
    call_command("analyze_files", str(image), str(text), "--analyzers", "example,text_length")
    report = json.loads(capsys.readouterr().out)
    assert report[0]["results"]["example"]["payload"]["width"] == 30
    assert report[1]["results"]["example"]["payload"] == {"words": 3}
    assert report[1]["results"]["text_length"]["payload"] == {"characters": 17}
    assert "text_length" not in report[0]["results"]


def test_analyze_files_reports_analyzer_errors(tmp_path, capsys):
    text = tmp_path / "t.txt"
    text.write_text("x")
    call_command("analyze_files", str(text), "--analyzers", "broken")
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["results"]["broken"]["error"]["code"] == "unsupported_content"


def test_analyze_files_rejects_unknown_analyzer(tmp_path):
    with pytest.raises(CommandError, match="unknown analyzer"):
        call_command("analyze_files", str(tmp_path), "--analyzers", "nope")
