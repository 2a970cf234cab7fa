"""Credentials stay in memory (issue 28). A key in params would be written down by everything
that records params or URLs: `dvc.lock` (which docs/pipeline.md says to commit), Snakemake's metadata
and log, the LLM cache's request records, httpx's request log. So params may name a credential
only by the environment variable that holds it, and a URL is recorded without its secrets.
"""
from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlsplit, urlunsplit

# query parameter names that carry a credential (Azure's api-key, `?key=`, `access_token`, signed
# URLs' `sig`); a parameter like `api-version` does not match and may stay in a recorded URL
SECRET_QUERY_NAME = re.compile(r"key|token|secret|passw|pwd|auth|sig|credential|session", re.I)


def url_credentials(url: str) -> list[str]:
    """What in ``url`` is, or looks like, a credential: its user info and its query parameters
    whose names say key, token, secret, password, signature..."""
    parts = urlsplit(url)
    found = ["user name or password (user:pass@host)"] if parts.username or parts.password else []
    return found + [f"query parameter {name!r}" for name, _ in parse_qsl(parts.query, keep_blank_values=True)
                    if SECRET_QUERY_NAME.search(name)]


def public_url(url: str) -> str:
    """The endpoint as a log line or an error may show it: no user info, no query."""
    parts = urlsplit(url)
    host = parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else parts.netloc
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def redact(text: str, secrets) -> str:
    """``text`` with every (non-empty) secret replaced by ***: for messages a server or a
    library composed, which may echo a header or the URL back."""
    for secret in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


_LOGGED_NEVER: set[str] = set()


def keep_out_of_logs(*secrets: str) -> None:
    """Every log record made from now on, by any logger, has these secrets replaced by ***.
    A record factory rather than a filter on named loggers: the HTTP client logs each request's
    URL (with its query) under a name that differs between releases (httpx, httpx2), and a
    library's debug lines can echo headers."""
    new = {s for s in secrets if s}
    if new and not _LOGGED_NEVER:
        make = logging.getLogRecordFactory()

        def redacting_factory(*args, **kwargs):
            record = make(*args, **kwargs)
            try:
                message = record.getMessage()
            except (TypeError, ValueError):    # a malformed call: logging reports it when it emits
                return record
            cleaned = redact(message, _LOGGED_NEVER)
            if cleaned != message:
                record.msg, record.args = cleaned, None
            return record

        logging.setLogRecordFactory(redacting_factory)
    _LOGGED_NEVER.update(new)
