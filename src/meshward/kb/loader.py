"""Load, overlay and check a knowledge base; every problem is an InputError naming file and place.

A KB directory holds ``kb.yaml`` (version, changelog), ``survey.yaml`` (``questions:``),
``threats/*.yaml`` and ``controls/*.yaml`` (lists) and ``tools.yaml`` (a list). An overlay
directory (``MESHWARD_KB_PATH``) holds ``overlay.yaml`` (``schema.Overlay``) and may add
``threats/`` and ``controls/`` files of new entries. Overlay files are untrusted: each is at most
``MAX_FILE_BYTES``, read with the hardened YAML loader (no tags beyond JSON types, no alias
bombs, bounded nesting), and every rule path is checked against the facts schema.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from meshward.errors import InputError
from meshward.formats.safe_yaml import load_yaml_documents
from meshward.kb.conditions import Condition, ConditionError, check
from meshward.kb.facts import FactSchema, FactSpec, link_schema, service_schema
from meshward.kb.schema import (
    ChangelogEntry,
    Control,
    KbHeader,
    Overlay,
    Question,
    Threat,
    Tool,
)
from meshward.limits import Limits

SHIPPED = Path(__file__).parent / "content"
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_FILES = 200
MAX_ENTRIES = 5000
_LIMITS = Limits(max_bytes=MAX_FILE_BYTES, max_depth=32)
M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", Question, Threat, Control, Tool)
TC = TypeVar("TC", Threat, Control)


class KbErrors(InputError):
    """Every problem found in a KB or overlay; ``errors`` lists them one by one."""

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        first = errors[0]
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        super().__init__(first.source, first.place, first.message + more)


@dataclass(frozen=True)
class KnowledgeBase:
    version: str
    title: str
    changelog: tuple[ChangelogEntry, ...]
    questions: dict[str, Question]
    threats: dict[str, Threat]
    controls: dict[str, Control]
    tools: dict[str, Tool]
    service_facts: FactSchema = field(repr=False)
    link_facts: FactSchema = field(repr=False)

    @cached_property
    def controls_by_threat(self) -> dict[str, list[Control]]:
        out: dict[str, list[Control]] = {key: [] for key in self.threats}
        for control in self.controls.values():
            for threat in control.mitigates:
                out.setdefault(threat, []).append(control)
        return out

    def to_data(self) -> dict[str, Any]:
        """The whole KB as JSON-ready data; ``from_data`` reads it back (stored per release)."""
        return {
            "version": self.version,
            "title": self.title,
            "changelog": [e.model_dump(mode="json") for e in self.changelog],
            "questions": [
                q.model_dump(mode="json", exclude_none=True) for q in self.questions.values()
            ],
            "threats": [
                t.model_dump(mode="json", exclude_none=True) for t in self.threats.values()
            ],
            "controls": [
                c.model_dump(mode="json", exclude_none=True) for c in self.controls.values()
            ],
            "tools": [t.model_dump(mode="json", exclude_none=True) for t in self.tools.values()],
        }

    @cached_property
    def digest(self) -> str:
        return hashlib.sha256(orjson.dumps(self.to_data(), option=orjson.OPT_SORT_KEYS)).hexdigest()

    @classmethod
    def from_data(cls, data: dict[str, Any], source: str = "stored KB") -> KnowledgeBase:
        problems = _Problems()
        header = problems.model(
            KbHeader, {k: data[k] for k in ("version", "title", "changelog")}, source, "header"
        )
        questions = [
            problems.model(Question, q, source, f"questions[{i}]")
            for i, q in enumerate(data["questions"])
        ]
        threats = [
            problems.model(Threat, t, source, f"threats[{i}]")
            for i, t in enumerate(data["threats"])
        ]
        controls = [
            problems.model(Control, c, source, f"controls[{i}]")
            for i, c in enumerate(data["controls"])
        ]
        tools = [
            problems.model(Tool, t, source, f"tools[{i}]") for i, t in enumerate(data["tools"])
        ]
        problems.raise_if_any()
        assert header is not None
        return _assemble(
            header.version,
            header.title,
            header.changelog,
            [(source, q) for q in questions if q],
            [(source, t) for t in threats if t],
            [(source, c) for c in controls if c],
            [(source, t) for t in tools if t],
        )


class _Problems:
    def __init__(self) -> None:
        self.errors: list[InputError] = []

    def add(self, source: str, place: str | None, message: str) -> None:
        self.errors.append(InputError(source, place, message))

    def model(self, model: type[M], data: Any, source: str, place: str) -> M | None:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            for error in exc.errors()[:10]:
                loc = ".".join(str(p) for p in error["loc"])
                name = _entry_id(data, error["loc"])
                where = f"{place} ({name})" if name else place
                self.add(source, f"{where} field {loc}" if loc else where, error["msg"])
            return None

    def raise_if_any(self) -> None:
        if self.errors:
            raise KbErrors(self.errors)


def _entry_id(data: Any, loc: tuple[int | str, ...]) -> str | None:
    """The id of the innermost entry on the error's path (``controls.3`` -> ``C-X``)."""
    node, name = data, None
    for step in (None, *loc):
        if step is not None:
            try:
                node = node[step]
            except (KeyError, IndexError, TypeError):
                break
        if isinstance(node, dict) and isinstance(node.get("id"), str):
            name = node["id"]
    return name


def _read_yaml(path: Path, problems: _Problems) -> Any:
    source = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        problems.add(source, None, f"cannot read: {exc.strerror}")
        return None
    if size > MAX_FILE_BYTES:
        problems.add(source, None, f"{size:,} bytes: larger than the {MAX_FILE_BYTES:,} allowed")
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        problems.add(source, f"byte {exc.start}", "not UTF-8 text")
        return None
    try:
        documents = load_yaml_documents(text, source, _LIMITS)
    except InputError as exc:
        problems.errors.append(exc)
        return None
    if len(documents) != 1:
        problems.add(source, None, f"expected one YAML document, found {len(documents)}")
        return None
    return documents[0][1]


def _entries(folder: Path, model: type[M], problems: _Problems) -> list[tuple[str, M]]:
    if not folder.is_dir():
        return []
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if len(files) > MAX_FILES:
        problems.add(str(folder), None, f"more than {MAX_FILES} files")
        return []
    out: list[tuple[str, M]] = []
    for path in files:
        data = _read_yaml(path, problems)
        if data is None:
            continue
        if not isinstance(data, list):
            problems.add(str(path), None, "expected a list of entries")
            continue
        for index, item in enumerate(data):
            entry = problems.model(model, item, str(path), f"entry {index + 1}")
            if entry is not None:
                out.append((str(path), entry))
    return out


def load_kb(path: Path | None = None, overlay: Path | bool | None = True) -> KnowledgeBase:
    """The shipped KB (or the full KB at ``path``), plus the overlay: ``True`` reads
    ``MESHWARD_KB_PATH`` when set, a path reads that directory, ``False``/None reads none."""
    root = path or SHIPPED
    problems = _Problems()
    if not (root / "kb.yaml").is_file():
        raise InputError(str(root), None, "not a KB directory (no kb.yaml)")
    header_data = _read_yaml(root / "kb.yaml", problems)
    header = problems.model(KbHeader, header_data, str(root / "kb.yaml"), "header")
    survey = _read_yaml(root / "survey.yaml", problems) if (root / "survey.yaml").is_file() else {}
    questions: list[tuple[str, Question]] = []
    if not isinstance(survey, dict) or not isinstance(survey.get("questions", []), list):
        problems.add(str(root / "survey.yaml"), None, "expected a mapping with a questions list")
    else:
        for index, item in enumerate(survey.get("questions", [])):
            q = problems.model(Question, item, str(root / "survey.yaml"), f"question {index + 1}")
            if q is not None:
                questions.append((str(root / "survey.yaml"), q))
    threats = _entries(root / "threats", Threat, problems)
    controls = _entries(root / "controls", Control, problems)
    tools: list[tuple[str, Tool]] = []
    if (root / "tools.yaml").is_file():
        data = _read_yaml(root / "tools.yaml", problems)
        if isinstance(data, list):
            for index, item in enumerate(data):
                t = problems.model(Tool, item, str(root / "tools.yaml"), f"entry {index + 1}")
                if t is not None:
                    tools.append((str(root / "tools.yaml"), t))
        elif data is not None:
            problems.add(str(root / "tools.yaml"), None, "expected a list of tools")
    problems.raise_if_any()
    assert header is not None
    version, changelog = header.version, list(header.changelog)
    if overlay is True:
        env = os.environ.get("MESHWARD_KB_PATH")
        overlay_dir: Path | None = Path(env) if env else None
    else:
        overlay_dir = overlay or None
    if overlay_dir is not None:
        version, changelog, questions, threats, controls = _apply_overlay(
            overlay_dir, version, changelog, questions, threats, controls
        )
    return _assemble(version, header.title, changelog, questions, threats, controls, tools)


def _apply_overlay(
    folder: Path,
    version: str,
    changelog: list[ChangelogEntry],
    questions: list[tuple[str, Question]],
    threats: list[tuple[str, Threat]],
    controls: list[tuple[str, Control]],
) -> tuple[
    str,
    list[ChangelogEntry],
    list[tuple[str, Question]],
    list[tuple[str, Threat]],
    list[tuple[str, Control]],
]:
    problems = _Problems()
    path = folder / "overlay.yaml"
    if not path.is_file():
        raise InputError(str(folder), None, "not a KB overlay directory (no overlay.yaml)")
    source = str(path)
    data = _read_yaml(path, problems)
    problems.raise_if_any()
    spec = problems.model(Overlay, data, source, "overlay")
    problems.raise_if_any()
    assert spec is not None
    threats = threats + [(source, t) for t in spec.threats]
    threats += _entries(folder / "threats", Threat, problems)
    controls = controls + [(source, c) for c in spec.controls]
    controls += _entries(folder / "controls", Control, problems)
    questions = questions + [(source, q) for q in spec.questions]
    threat_ids = {t.id for _, t in threats}
    control_ids = {c.id for _, c in controls}
    for name, ids, known in (
        ("disable_threats", spec.disable_threats, threat_ids),
        ("disable_controls", spec.disable_controls, control_ids),
        ("threat_texts", list(spec.threat_texts), threat_ids),
        ("control_texts", list(spec.control_texts), control_ids),
        ("code_samples", list(spec.code_samples), control_ids),
    ):
        for key in ids:
            if key not in known:
                problems.add(source, f"{name} {key}", "no such entry in the KB")
    problems.raise_if_any()
    disabled_t, disabled_c = set(spec.disable_threats), set(spec.disable_controls)
    threats = [
        (src, _retext(t, spec.threat_texts.get(t.id)))
        for src, t in threats
        if t.id not in disabled_t
    ]
    new_controls: list[tuple[str, Control]] = []
    for src, control in controls:
        if control.id in disabled_c:
            continue
        control = _retext(control, spec.control_texts.get(control.id))
        company = spec.code_samples.get(control.id)
        if company:
            approved = [s.model_copy(update={"approved": True}) for s in company]
            control = control.model_copy(
                update={"code_samples": approved + list(control.code_samples)}
            )
        mitigates = [m for m in control.mitigates if m not in disabled_t]
        if not mitigates:
            continue  # every threat it mitigated was disabled
        new_controls.append((src, control.model_copy(update={"mitigates": mitigates})))
    return (
        f"{version}+{spec.version}",
        [*spec.changelog, *changelog],
        questions,
        threats,
        new_controls,
    )


def _retext(entry: TC, texts: Any) -> TC:
    if texts is None:
        return entry
    update = {k: v for k, v in (("title", texts.title), ("description", texts.description)) if v}
    return entry.model_copy(update=update)


def _question_spec(question: Question) -> FactSpec:
    kind = {"single": "str", "multi": "list", "bool": "bool", "text": "str"}[question.type]
    values = frozenset(o.value for o in question.options) if question.options else None
    return FactSpec(kind, question.text, values)  # type: ignore[arg-type]


def _assemble(
    version: str,
    title: str,
    changelog: Iterable[ChangelogEntry],
    questions: list[tuple[str, Question]],
    threats: list[tuple[str, Threat]],
    controls: list[tuple[str, Control]],
    tools: list[tuple[str, Tool]],
) -> KnowledgeBase:
    """Cross-checks: unique ids, references that resolve, rule paths that exist."""
    problems = _Problems()
    if len(threats) + len(controls) + len(questions) > MAX_ENTRIES:
        problems.add("KB", None, f"more than {MAX_ENTRIES} entries")
        problems.raise_if_any()

    def unique(items: list[tuple[str, E]], kind: str) -> dict[str, E]:
        out: dict[str, E] = {}
        where: dict[str, str] = {}
        for src, item in items:
            if item.id in out:
                problems.add(src, f"{kind} {item.id}", f"duplicate id (also in {where[item.id]})")
            out[item.id], where[item.id] = item, src
        return out

    q_by_id = unique(questions, "question")
    t_by_id = unique(threats, "threat")
    c_by_id = unique(controls, "control")
    tool_by_id = unique(tools, "tool")
    services = service_schema((q.id, _question_spec(q)) for q in q_by_id.values())
    links = link_schema(services)
    sources = {**{("q", q.id): s for s, q in questions}, **{("t", t.id): s for s, t in threats}}
    sources.update({("c", c.id): s for s, c in controls})

    def checked(rule: Condition | None, schema: FactSchema, src: str, place: str) -> None:
        if rule is None:
            return
        try:
            check(rule, schema)
        except ConditionError as exc:
            problems.add(src, place, exc.message)

    for q in q_by_id.values():
        src = sources[("q", q.id)]
        checked(q.shown_when, services, src, f"question {q.id} shown_when")
        if q.prefill is not None and q.prefill not in services:
            problems.add(src, f"question {q.id} prefill", f"unknown fact {q.prefill!r}")
        if (
            q.prefill_value is not None
            and q.type == "single"
            and q.prefill_value not in {o.value for o in q.options}
        ):
            problems.add(src, f"question {q.id} prefill_value", "not one of its options")
        for index, implication in enumerate(q.implies):
            place = f"question {q.id} implies[{index}]"
            checked(implication.when, services, src, place)
            for target, value in implication.set.items():
                other = q_by_id.get(target)
                if other is None:
                    problems.add(src, place, f"sets unknown question {target!r}")
                    continue
                _check_answer(other, value, problems, src, place)
    for t in t_by_id.values():
        src = sources[("t", t.id)]
        checked(
            t.applies_when,
            links if t.scope == "link" else services,
            src,
            f"threat {t.id} applies_when",
        )
    for c in c_by_id.values():
        src = sources[("c", c.id)]
        for threat in c.mitigates:
            if threat not in t_by_id:
                problems.add(src, f"control {c.id} mitigates", f"unknown threat {threat!r}")
        checked(c.applies_when, services, src, f"control {c.id} applies_when")
    for tool in tool_by_id.values():
        for control_id in tool.controls:
            if control_id not in c_by_id:
                problems.add("tools.yaml", f"tool {tool.id}", f"unknown control {control_id!r}")
    problems.raise_if_any()
    return KnowledgeBase(
        version=version,
        title=title,
        changelog=tuple(changelog),
        questions=q_by_id,
        threats=t_by_id,
        controls=c_by_id,
        tools=tool_by_id,
        service_facts=services,
        link_facts=links,
    )


def check_answer(question: Question, value: Any) -> str | None:
    """Why ``value`` is not a valid answer to ``question``, or None when it is."""
    if question.type == "bool":
        return None if isinstance(value, bool) else "expects true or false"
    if question.type == "text":
        if not isinstance(value, str) or len(value) > 200:
            return "expects a text of at most 200 characters"
        return None
    options = {o.value for o in question.options}
    if question.type == "single":
        if not isinstance(value, str) or value not in options:
            return f"expects one of: {', '.join(sorted(options))}"
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and v in options for v in value):
        return f"expects a list of: {', '.join(sorted(options))}"
    return None


def _check_answer(
    question: Question, value: Any, problems: _Problems, source: str, place: str
) -> None:
    why = check_answer(question, value)
    if why is not None:
        problems.add(source, place, f"{question.id} {why}")
