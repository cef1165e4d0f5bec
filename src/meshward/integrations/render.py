"""A :class:`Document` as each tracker wants it: Markdown (GitHub), wiki markup (Jira REST v2)
and Atlassian Document Format (Jira REST v3)."""

from __future__ import annotations

from typing import Any

from meshward.integrations.interface import Bullets, Code, Document, Heading, Link, Paragraph


def _fence(text: str) -> str:
    """A Markdown fence longer than any backtick run inside the code."""
    longest = run = 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def markdown(doc: Document) -> str:
    out: list[str] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            out.append(f"### {b.text}")
        elif isinstance(b, Paragraph):
            out.append(b.text)
        elif isinstance(b, Code):
            fence = _fence(b.text)
            out.append(f"{fence}{b.language or ''}\n{b.text.rstrip()}\n{fence}")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Link):
            out.append(f"[{b.text}]({b.url})")
    return "\n\n".join(out) + "\n"


def _wiki_escape(text: str) -> str:
    """Wiki markup treats ``{`` ``[`` ``|`` and friends as markup; outside code they are text."""
    for ch in "\\{}[]|*_+^~-":
        text = text.replace(ch, "\\" + ch)
    return text


def wiki(doc: Document) -> str:
    out: list[str] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            out.append(f"h3. {_wiki_escape(b.text)}")
        elif isinstance(b, Paragraph):
            out.append(_wiki_escape(b.text))
        elif isinstance(b, Code):
            lang = f":{b.language}" if b.language else ""
            out.append(f"{{code{lang}}}\n{b.text.rstrip()}\n{{code}}")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"* {_wiki_escape(item)}" for item in b.items))
        elif isinstance(b, Link):
            out.append(f"[{b.text.replace('|', '/').replace(']', ')')}|{b.url}]")
    return "\n\n".join(out) + "\n"


def _text(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def _para(text: str) -> dict[str, Any]:
    return {"type": "paragraph", "content": [_text(text)] if text else []}


def adf(doc: Document) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    for b in doc.blocks:
        if isinstance(b, Heading):
            content.append({"type": "heading", "attrs": {"level": 3}, "content": [_text(b.text)]})
        elif isinstance(b, Paragraph):
            content.append(_para(b.text))
        elif isinstance(b, Code):
            block: dict[str, Any] = {"type": "codeBlock", "content": [_text(b.text.rstrip())]}
            if b.language:
                block["attrs"] = {"language": b.language}
            content.append(block)
        elif isinstance(b, Bullets):
            content.append(
                {
                    "type": "bulletList",
                    "content": [{"type": "listItem", "content": [_para(i)]} for i in b.items],
                }
            )
        elif isinstance(b, Link):
            mark = {"type": "link", "attrs": {"href": b.url}}
            content.append({"type": "paragraph", "content": [{**_text(b.text), "marks": [mark]}]})
    return {"type": "doc", "version": 1, "content": content}
