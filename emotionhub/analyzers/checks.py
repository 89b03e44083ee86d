"""Start-up validation of the analyzer allow list and every enabled plugin's spec."""

from django.conf import settings
from django.core.checks import Error, Tags, register

from emotionhub.analyzers import registry


@register(Tags.compatibility)
def check_analyzers(app_configs=None, **kwargs) -> list[Error]:
    errors = []
    installed = registry.installed_entry_points()
    for name in settings.EMOTIONHUB_ANALYZERS:
        if name != "*" and name not in installed:
            errors.append(
                Error(
                    f"Analyzer {name!r} is on EMOTIONHUB_ANALYZERS but not installed.",
                    hint=f"pip install the plugin that provides it, or remove it. "
                    f"Installed: {sorted(installed) or 'none'}.",
                    id="emotionhub.E001",
                )
            )
    for name in registry.enabled_names():
        for problem in registry.spec_problems(name):
            errors.append(Error(f"Analyzer {name!r} {problem}.", id="emotionhub.E002"))
    return errors
