"""The knowledge base's documented shape (docs/kb.md), as pydantic models with clear errors.

The shipped KB is ``meshward/kb/content/``: ``kb.yaml`` (version and changelog),
``survey.yaml`` (questions), ``threats/*.yaml`` and ``controls/*.yaml`` (lists), ``tools.yaml``
(what each scanner can detect). A company overlay (``MESHWARD_KB_PATH``) is an ``overlay.yaml``
of the ``Overlay`` shape plus optional ``threats/`` and ``controls/`` folders of new entries.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

from meshward.kb.conditions import Condition, ConditionError, parse_condition

Stride = Literal[
    "spoofing",
    "tampering",
    "repudiation",
    "information_disclosure",
    "denial_of_service",
    "elevation_of_privilege",
]
Priority = Literal["critical", "high", "medium", "low"]
Scope = Literal["service", "link"]
QuestionType = Literal["single", "multi", "bool", "text"]
Standard = Literal["pci-dss", "hipaa", "gdpr", "soc2", "nist-800-53"]
STANDARD_TITLES: dict[str, str] = {
    "pci-dss": "PCI DSS 4.0",
    "hipaa": "HIPAA Security Rule",
    "gdpr": "GDPR",
    "soc2": "SOC 2 (2017 TSC)",
    "nist-800-53": "NIST SP 800-53 rev. 5",
}
Language = Literal[
    "python",
    "java",
    "go",
    "javascript",
    "typescript",
    "csharp",
    "kotlin",
    "c",
    "cpp",
    "rust",
    "any",
]

ID_SLUG = r"^[a-z][a-z0-9_]{0,63}$"
VALUE_SLUG = r"^[a-z0-9][a-z0-9_.+-]{0,63}$"
THREAT_ID = r"^T-[A-Z0-9]+(?:-[A-Z0-9]+){0,7}$"
CONTROL_ID = r"^C-[A-Z0-9]+(?:-[A-Z0-9]+){0,7}$"
ASVS_ID = r"^v(?:4\.0\.3|5\.0\.0)-\d{1,2}\.\d{1,2}\.\d{1,2}$"

Text = Annotated[str, Field(min_length=1, max_length=4000)]
Title = Annotated[str, Field(min_length=1, max_length=200)]


def _condition(value: Any) -> Condition:
    if isinstance(value, Condition):
        return value
    try:
        return parse_condition(value)
    except ConditionError as exc:
        raise ValueError(exc.message if not exc.where else str(exc)) from None


Rule = Annotated[
    Condition,
    BeforeValidator(_condition),
    PlainSerializer(lambda rule: rule.to_data(), return_type=dict),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Option(_Model):
    value: Annotated[str, Field(pattern=VALUE_SLUG)]
    label: Title
    help: Text | None = None


class Implication(_Model):
    """When ``when`` holds, the answers in ``set`` are filled in (unless the user answered)."""

    when: Rule
    set: dict[Annotated[str, Field(pattern=ID_SLUG)], str | bool | list[str]]


class Question(_Model):
    id: Annotated[str, Field(pattern=ID_SLUG)]
    text: Title
    type: QuestionType
    options: list[Option] = Field(default_factory=list, max_length=64)
    help: Text | None = None
    shown_when: Rule | None = None
    """Asked only when this holds; otherwise the question is skipped (and not required)."""
    prefill: str | None = None
    """A fact path (``sbom.languages``, ``graph.internet_facing``) whose value pre-answers it:
    a list fact pre-answers a multi question (its values among the options) or a bool question
    (true when not empty); a bool fact pre-answers a bool question. With ``prefill_value``,
    the fact being true or a list fact holding that value pre-answers a single question with
    ``prefill_value`` (a bool question with true); otherwise it says nothing."""
    prefill_value: Annotated[str, Field(pattern=VALUE_SLUG)] | None = None
    default: str | bool | list[str] | None = None
    implies: list[Implication] = Field(default_factory=list, max_length=16)

    @field_validator("options")
    @classmethod
    def _unique_options(cls, options: list[Option]) -> list[Option]:
        values = [o.value for o in options]
        if len(values) != len(set(values)):
            raise ValueError("option values must be unique")
        return options


class Threat(_Model):
    id: Annotated[str, Field(pattern=THREAT_ID)]
    title: Title
    stride: Stride
    scope: Scope = "service"
    description: Text
    cwe: list[Annotated[int, Field(ge=1, le=99999)]] = Field(default_factory=list, max_length=32)
    capec: list[Annotated[int, Field(ge=1, le=99999)]] = Field(default_factory=list, max_length=32)
    likelihood: Annotated[int, Field(ge=1, le=5)] = 3
    impact: Annotated[int, Field(ge=1, le=5)] = 3
    applies_when: Rule


class CodeSample(_Model):
    language: Language
    framework: Annotated[str, Field(pattern=VALUE_SLUG)] | None = None
    title: Title | None = None
    code: Annotated[str, Field(min_length=1, max_length=8000)]
    approved: bool = False
    """Company-approved (set by an overlay); approved samples are listed first."""


class Verification(_Model):
    """What proves the control failed: scanner results with these CWEs or matching rule ids."""

    cwe: list[Annotated[int, Field(ge=1, le=99999)]] = Field(default_factory=list, max_length=64)
    rule_patterns: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default_factory=list, max_length=64
    )
    """``fnmatch`` patterns over ``tool:rule-id`` (``bandit:B608``, ``semgrep:*sql*``)."""


class Control(_Model):
    id: Annotated[str, Field(pattern=CONTROL_ID)]
    title: Title
    description: Text
    priority: Priority
    mitigates: list[Annotated[str, Field(pattern=THREAT_ID)]] = Field(min_length=1, max_length=32)
    asvs: list[Annotated[str, Field(pattern=ASVS_ID)]] = Field(default_factory=list, max_length=32)
    compliance: dict[Standard, list[Annotated[str, Field(min_length=1, max_length=60)]]] = Field(
        default_factory=dict
    )
    code_samples: list[CodeSample] = Field(default_factory=list, max_length=32)
    test_plan: list[Annotated[str, Field(min_length=3, max_length=1000)]] = Field(
        min_length=1, max_length=32
    )
    verification: Verification = Field(default_factory=Verification)
    applies_when: Rule | None = None
    """Narrows a control to some services (a Django-only control); None: wherever its threats
    apply."""
    platform_capability: str | None = None
    """A platform giving this capability (mesh: ``mtls``) satisfies the control for every
    service on or behind it."""


class Tool(_Model):
    """A scanner's declared coverage: a clean scan only verifies controls the tool can detect."""

    id: Annotated[str, Field(pattern=VALUE_SLUG)]
    title: Title
    kind: Literal["sast", "dast", "sca", "secrets", "iac", "manual"]
    languages: list[Language] = Field(default_factory=list)
    cwe: list[Annotated[int, Field(ge=1, le=99999)]] = Field(default_factory=list)
    controls: list[Annotated[str, Field(pattern=CONTROL_ID)]] = Field(default_factory=list)


class ChangelogEntry(_Model):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    date: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    changes: list[Annotated[str, Field(min_length=1, max_length=1000)]] = Field(min_length=1)


class KbHeader(_Model):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    title: Title = "meshward knowledge base"
    changelog: list[ChangelogEntry] = Field(min_length=1)


class TextOverride(_Model):
    title: Title | None = None
    description: Text | None = None


class Overlay(_Model):
    """A company's changes on top of the shipped KB, without forking it."""

    version: Annotated[str, Field(min_length=1, max_length=40)]
    """The overlay's own version; the effective KB version is ``<shipped>+<overlay>``."""
    changelog: list[ChangelogEntry] = Field(default_factory=list)
    disable_threats: list[Annotated[str, Field(pattern=THREAT_ID)]] = Field(default_factory=list)
    disable_controls: list[Annotated[str, Field(pattern=CONTROL_ID)]] = Field(default_factory=list)
    threat_texts: dict[Annotated[str, Field(pattern=THREAT_ID)], TextOverride] = Field(
        default_factory=dict
    )
    control_texts: dict[Annotated[str, Field(pattern=CONTROL_ID)], TextOverride] = Field(
        default_factory=dict
    )
    code_samples: dict[Annotated[str, Field(pattern=CONTROL_ID)], list[CodeSample]] = Field(
        default_factory=dict
    )
    """Company-approved samples, listed before the shipped ones (marked approved)."""
    threats: list[Threat] = Field(default_factory=list)
    controls: list[Control] = Field(default_factory=list)
    questions: list[Question] = Field(default_factory=list)
