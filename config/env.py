"""Reading the settings' environment variables, refusing a value that does not parse.

A typo in a variable (``DJANGO_DEBUG=ture``, ``AGORA_DB_POOL_SIZE=16x``) stops the process at start with
a message naming the variable and what it accepts, instead of reading as False or a traceback without a
name. Plain Python: nothing here reads Django's settings, so the settings, ``manage.py`` and the test
session's plugin can all use it before Django is set up.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


def env(name: str, default: str | None = None) -> str | None:
    """Read NAME, or the contents of the file NAME_FILE names (docker secrets)."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return os.environ.get(name, default)


def _given(name: str) -> str | None:
    """NAME's value without surrounding blanks; None when unset or blank (the default applies)."""
    value = env(name)
    if value is None or not value.strip():
        return None
    return value.strip()


def env_bool(name: str, default: bool) -> bool:
    """True for 1/true/yes/on, False for 0/false/no/off (any case); anything else is refused."""
    value = _given(name)
    if value is None:
        return default
    if value.lower() in TRUE:
        return True
    if value.lower() in FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={value!r} is not a yes/no value: use one of {', '.join(TRUE)} or {', '.join(FALSE)}"
    )


def env_int(name: str, default: int) -> int:
    """A whole number (e.g. 16, -1); anything else is refused."""
    value = _given(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number (e.g. {default})") from None


def env_float(name: str, default: float) -> float:
    """A number (e.g. 2, 0.25, inf); anything else, NaN included, is refused."""
    value = _given(name)
    if value is None:
        return float(default)
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isnan(number):
        raise ImproperlyConfigured(f"{name}={value!r} is not a number (e.g. {default:g})")
    return number


def env_list(name: str, default: str = "") -> list[str]:
    """Comma-separated items, blanks dropped."""
    return [item.strip() for item in (env(name) or default).split(",") if item.strip()]
