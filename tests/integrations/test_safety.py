"""Outbound address checks: metadata and link-local never, loopback only when allowed."""

from __future__ import annotations

import pytest

from meshward.integrations.interface import Bullets, Code, Document, Paragraph
from meshward.integrations.render import markdown, wiki
from meshward.integrations.safety import OutboundRefused, check_host, check_url


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://METADATA.google.internal./",
        "http://100.100.100.200/latest/meta-data/",
        "http://[fd00:ec2::254]/",
        "http://[fe80::1%25eth0]/",
        "http://[::ffff:169.254.169.254]/",
        "http://0.0.0.0/",
        "file:///etc/passwd",
        "http://user:pass@jira.example/",
    ],
)
def test_refused_even_when_private_is_allowed(url: str) -> None:
    with pytest.raises(OutboundRefused):
        check_url(url, allow_private=True, resolve=lambda host: ["93.184.216.34"])


def test_names_are_checked_by_what_they_resolve_to() -> None:
    with pytest.raises(OutboundRefused, match="metadata"):
        check_host(
            "rebind.example", allow_private=True, resolve=lambda h: ["10.0.0.5", "169.254.169.254"]
        )
    with pytest.raises(OutboundRefused, match="loopback"):
        check_host("localhost", allow_private=False)
    check_host("localhost", allow_private=True)
    check_host("jira.internal", allow_private=False, resolve=lambda h: ["10.1.2.3"])  # on-prem


def test_renderers_keep_code_and_escape_text() -> None:
    doc = Document((Paragraph("a {b} [c]"), Code("x = '```'", "python"), Bullets(("one", "two"))))
    assert markdown(doc) == "a {b} [c]\n\n````python\nx = '```'\n````\n\n- one\n- two\n"
    assert wiki(doc) == "a \\{b\\} \\[c\\]\n\n{code:python}\nx = '```'\n{code}\n\n* one\n* two\n"
