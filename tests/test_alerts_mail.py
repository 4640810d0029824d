"""E-mail alerts carry the post's text as text, never as markup (#11, finding 2).

A channel is the adversary's: a post with a tracking pixel, a phishing link styled as the
console's, or a hidden span must reach an analyst's mailbox as the characters it is made of.
A real SMTP server (aiosmtpd, on 127.0.0.1) receives the message; every MIME part is read.
"""

from __future__ import annotations

import re
from email.message import EmailMessage

import pytest

from .alert_receivers import SmtpReceiver, smtp  # noqa: F401  (fixture)
from .test_alerts import READY, World, matcher, world  # noqa: F401  (fixtures)

HOSTILE = (
    '<img src=http://x/p.png> <a href="http://evil.example/login">open in the console</a> '
    '<span style="display:none">'
)
TAG = re.compile(r"<\s*(img|a|span)\b", re.I)


def parts(mail: EmailMessage) -> dict[str, str]:
    out = {}
    for part in mail.walk():
        if part.get_content_maintype() == "text":
            assert isinstance(part, EmailMessage)
            out[part.get_content_type()] = str(part.get_content())
    return out


@pytest.mark.parametrize("extra", ["", "&format=html", "&format=text"])
def test_post_markup_reaches_no_part_of_an_email_alert(
    world: World,  # noqa: F811
    smtp: SmtpReceiver,  # noqa: F811
    extra: str,
) -> None:
    cid = world.channel("nujaba_main", "Harakat al-Nujaba")
    world.subscribe("desk", smtp.url + extra, min_severity="medium")
    world.post(cid, f"{READY} {HOSTILE}")
    assert world.sender().send_due().sent == 1
    [mail] = smtp.box.messages
    shown = parts(mail)
    html = shown.get("text/html")
    assert not TAG.search(html or ""), html  # no tag of the post is markup anywhere
    assert "text/plain" in shown and "نعلن جاهزيتنا" in shown["text/plain"]
    # Plain text is what the analyst reads: the tags are there as characters, inert.
    assert "open in the console</a>" in shown["text/plain"]
    if extra == "&format=html":  # the URL asked for HTML: the text is escaped into it
        assert html is not None and "&lt;img" in html and "&lt;/a&gt;" in html
    else:
        assert html is None  # alerts are plain text
    for part in mail.walk():  # nothing but text: no HTML attachment, no related images
        assert part.get_content_maintype() in ("text", "multipart")
