"""A gate verdict as JUnit XML, the test-report format every CI system renders natively
(GitHub via test-reporter actions, GitLab ``artifacts:reports:junit``, Jenkins, Azure).

One ``testsuite``; a ``testcase`` per policy rule (so passing rules show as passed tests) and
one per broken item (so each finding or control shows as its own failed test, with its
details). The writer takes the verdict's JSON form, so a CLI running against ``--server``
writes the same file from the API's answer.

Escaping: ElementTree escapes markup characters; characters XML 1.0 cannot hold at all
(most C0 controls, lone surrogates) are replaced, since a single one makes the whole report
unreadable to the CI.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: object) -> str:
    """Text XML 1.0 can carry: characters it forbids become U+FFFD."""
    return _NOT_XML.sub("\ufffd", str(value))


def junit_xml(verdict: dict[str, Any]) -> bytes:
    subject = f"{verdict['component']}@{verdict['version']}"
    suite_name = f"meshward gate {subject}"
    cases: list[ET.Element] = []
    for rule in verdict["rules"]:
        case = _case(rule["id"], suite_name)
        if not rule["passed"]:
            _fail(
                case,
                f"{rule['description']}: broken by {rule['actual']}",
                "\n".join(item["message"] for item in rule["broken"]),
            )
        cases.append(case)
        for item in rule["broken"]:
            case = _case(f"{rule['id']}: {item['kind']} {item['id']}", suite_name)
            _fail(case, item["message"], _details(item))
            cases.append(case)
    failures = sum(1 for c in cases if c.find("failure") is not None)
    suites = ET.Element("testsuites", _attrs(name="meshward gate", tests=len(cases)))
    suites.set("failures", str(failures))
    suite = ET.SubElement(
        suites,
        "testsuite",
        _attrs(
            name=suite_name,
            tests=len(cases),
            failures=failures,
            errors=0,
            skipped=0,
            timestamp=verdict["evaluated_at"],
        ),
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("component", verdict["component"]),
        ("version", verdict["version"]),
        ("passed", str(verdict["passed"]).lower()),
    ):
        ET.SubElement(props, "property", _attrs(name=name, value=value))
    suite.extend(cases)
    ET.indent(suites)
    data: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def _attrs(**values: object) -> dict[str, str]:
    return {k: xml_text(v) for k, v in values.items()}


def _case(name: str, classname: str) -> ET.Element:
    return ET.Element("testcase", _attrs(name=name, classname=classname, time=0))


def _fail(case: ET.Element, message: str, text: str) -> None:
    failure = ET.SubElement(case, "failure", _attrs(message=message, type="policy"))
    failure.text = xml_text(text)


def _details(item: dict[str, Any]) -> str:
    lines = [item["message"]]
    if item.get("severity"):
        lines.append(f"severity: {item['severity']}")
    for loc in item.get("locations", []):
        line = loc.get("start_line")
        lines.append(f"at {loc['uri']}" + (f":{line}" if line else ""))
    for key, value in item.get("details", {}).items():
        if key != "evidence":
            lines.append(f"{key}: {value}")
    return "\n".join(lines)
