"""SARIF 2.1.0 (and the 2.0 and 2.2 drafts' compatible shapes) from any tool.

SARIF is where most SAST tools meet (CodeQL, Semgrep, Bandit, ESLint, ...), and Trivy,
Grype and ZAP write it too, so this reader stays general: the tool name comes from
``tool.driver.name``, each run keeps its own tool, and tool-specific knowledge is limited to
recognising SCA (rule ids that are CVE/GHSA ids, Trivy's ``Package:`` message lines) and
DAST (``webRequest``) results.

Decisions:

- A result's rule is found by ``rule.index`` / ``ruleIndex`` in the component that
  ``rule.toolComponent`` names (driver by default, else ``tool.extensions[i]``), else by
  ``ruleId`` in every component, else by the part of a hierarchical ``ruleId`` before ``/``.
- CWEs come from the result (``taxa``, ``properties.tags``, ``properties.cwe``) and from its
  rule (``properties.tags``, ``properties.cwe``, ``relationships``, and an id that is
  exactly ``CWE-<n>``, as Azure DevOps' samples name rules). Taxonomy references are
  resolved through ``run.taxonomies`` by index, guid or name; only a taxonomy named ``CWE``
  yields CWEs.
- Results of kind ``pass`` or ``notApplicable`` say a rule held, not that it failed; they are
  left out (the rule still appears in ``ScanReport.rules``).
- Severity: ``security-severity`` (result, then rule) on the CVSS bands, else ``level``
  (result, then the rule's default configuration, else SARIF's default ``warning``).
- A suppression counts when its status is ``accepted`` or absent; ``underReview`` and
  ``rejected`` ones are kept for the record but leave the finding active.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from meshward.formats.sbom.common import head_text
from meshward.formats.scans.common import (
    MAX_MESSAGE_CHARS,
    MAX_SNIPPET_CHARS,
    Place,
    cap,
    check_result_count,
    parse_time,
    severity_from_score,
    severity_from_word,
    tool_name,
)
from meshward.formats.scans.cwe import cwe_from_field, cwe_from_text, sorted_cwes
from meshward.formats.scans.fingerprint import (
    dast_fingerprint,
    sast_fingerprint,
    sca_fingerprint,
    tool_fingerprint,
)
from meshward.formats.scans.interface import (
    JsonScanReader,
    Location,
    PackageRef,
    ScanFinding,
    ScanKind,
    ScanReport,
    ScanRule,
    Severity,
    Suppression,
)

__all__ = ["SarifReader", "read_sarif_log"]

_SCA_TOOLS = frozenset({"trivy", "grype", "osv-scanner", "snyk", "dependency-check"})
_DAST_TOOLS = frozenset({"zap"})
_VULN_ID = re.compile(
    r"^(?:CVE-\d{4}-\d{4,}|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}|[A-Z]+-\d{4}-\d+)$"
)
_CWE_RULE_ID = re.compile(r"^CWE-\d+$", re.IGNORECASE)
_SKIPPED_KINDS = frozenset({"pass", "notApplicable"})
_EMBEDDED_LINK = re.compile(r"(?<!\\)\[((?:[^\]\\]|\\.)*)\]\((\d+|[a-z][\w+.-]*:[^)\s]*)\)")
_ARGUMENT = re.compile(r"\{(\d+)\}")
_TRIVY_FIELD = re.compile(r"^(Package|Installed Version|Fixed Version): *(.+)$", re.MULTILINE)
_GRYPE_PACKAGE = re.compile(r"package: (?P<name>[^,\s]+), version (?P<version>\S+?)(?:,|\s|$)")


@dataclass(frozen=True, slots=True)
class _Rule:
    id: str
    name: str | None
    cwes: tuple[str, ...]
    tags: tuple[str, ...]
    level: str | None
    severity: Severity | None
    """From ``security-severity``, computed once per rule."""
    message_strings: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Taxonomy:
    name: str
    guid: str
    taxa: list[Any]


class SarifReader(JsonScanReader):
    format = "sarif"

    def sniff(self, head: bytes) -> bool:
        text = head_text(head)
        if not text.startswith("{"):
            return False
        return '"runs"' in text and ("sarif" in text.lower() or '"version"' in text)

    def accepts(self, root: object) -> bool:
        return (
            isinstance(root, dict)
            and "runs" in root
            and ("version" in root or "sarif" in str(root.get("$schema", "")).lower())
        )

    def from_json(self, root: object, source: str, tool_hint: str | None = None) -> ScanReport:
        return read_sarif_log(root, source, tool_hint)


def read_sarif_log(root: Any, source: str, tool_hint: str | None = None) -> ScanReport:
    """Normalise a decoded SARIF log (already loaded with the safe JSON loader)."""
    top = Place(source)
    log = top.obj(root, optional=False)
    version = log.get("version")
    if version is not None and not (isinstance(version, str) and version.startswith("2.")):
        (top / "version").fail(f"unsupported SARIF version {version!r} (2.x expected)")
    if "runs" not in log:
        top.fail("not a SARIF log: no 'runs'")
    runs = top.array(log.get("runs"), "runs")
    total = 0
    for index, run in enumerate(runs):
        run_place = top / "runs" / index
        results = run_place.array(run_place.obj(run, optional=False).get("results"), "results")
        total += len(results)
    check_result_count(total, source, "/runs")

    findings: list[ScanFinding] = []
    rules: list[ScanRule] = []
    report_tool: str | None = None
    report_version: str | None = None
    started = finished = None
    target: str | None = None
    kinds: set[ScanKind] = set()
    for index, run in enumerate(runs):
        reader = _RunReader(run, top / "runs" / index, tool_hint)
        run_findings = reader.findings()
        findings.extend(run_findings)
        rules.extend(reader.declared_rules())
        kinds.add(reader.kind(run_findings))
        if report_tool is None:
            report_tool, report_version = reader.tool, reader.tool_version
            started, finished = reader.times()
            target = reader.target()
    # One kind per report: a mixed log is SAST when any run is, else its SCA or DAST kind.
    kind: ScanKind = "sast" if "sast" in kinds or not kinds else min(kinds)
    return ScanReport(
        format="sarif",
        tool=report_tool or tool_name(None, tool_hint),
        tool_version=report_version,
        kind=kind,
        started=started,
        finished=finished,
        target=target,
        results=findings,
        rules=tuple(rules),
    )


def _text_of(value: Any) -> str | None:
    """A SARIF message-ish value: a string, or an object with ``text`` (2.0 wrote
    ``{"text": ...}`` where 2.1 writes a string)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        text = value.get("text")
        return text if isinstance(text, str) else None
    return None


class _RunReader:
    """One ``run``: its tool, rules, taxonomies and artifacts, then its results."""

    def __init__(self, run: Any, place: Place, tool_hint: str | None) -> None:
        self.place = place
        self.run = place.obj(run, optional=False)
        tool_place = place / "tool"
        tool = tool_place.obj(self.run.get("tool"))
        driver = tool_place.obj(tool.get("driver"), "driver") if "driver" in tool else tool
        self.tool = tool_name(_text_of(driver.get("name")), tool_hint)
        version = driver.get("version") or driver.get("semanticVersion")
        self.tool_version = version if isinstance(version, str) else None
        self.taxonomies = self._taxonomies()
        self.components: list[list[_Rule]] = [
            self._rules(driver.get("rules"), tool_place / "driver" / "rules")
        ]
        legacy = place.obj(self.run.get("resources"), "resources").get("rules")
        if isinstance(legacy, dict):  # SARIF 2.0: rules keyed by id under run.resources
            self.components[0].extend(
                self._rules(list(legacy.values()), place / "resources" / "rules")
            )
        extensions = tool_place.array(tool.get("extensions"), "extensions")
        for number, extension in enumerate(extensions):
            ext_place = tool_place / "extensions" / number
            ext = ext_place.obj(extension)
            self.components.append(self._rules(ext.get("rules"), ext_place / "rules"))
        self.by_id: dict[str, _Rule] = {}
        for component in self.components:
            for rule in component:
                self.by_id.setdefault(rule.id, rule)
        strings = driver.get("globalMessageStrings")
        self.global_strings: dict[str, Any] = strings if isinstance(strings, dict) else {}
        self.artifacts = self.run.get("artifacts") or self.run.get("files")

    # ------------------------------------------------------------------ run metadata

    def times(self) -> tuple[Any, Any]:
        invocations = self.run.get("invocations")
        if not isinstance(invocations, list) or not invocations:
            return None, None
        first = invocations[0] if isinstance(invocations[0], dict) else {}
        return parse_time(first.get("startTimeUtc")), parse_time(first.get("endTimeUtc"))

    def target(self) -> str | None:
        properties = self.run.get("properties")
        if isinstance(properties, dict):
            for key in ("imageName", "artifactName", "target"):
                if isinstance(properties.get(key), str) and properties[key]:
                    return str(properties[key])
        provenance = self.run.get("versionControlProvenance")
        if isinstance(provenance, list) and provenance and isinstance(provenance[0], dict):
            uri = provenance[0].get("repositoryUri")
            if isinstance(uri, str):
                return uri
        return None

    def kind(self, findings: list[ScanFinding]) -> ScanKind:
        if self.tool in _DAST_TOOLS:
            return "dast"
        if self.tool in _SCA_TOOLS or (findings and all(f.package for f in findings)):
            return "sca"
        if findings and all(f.location.url for f in findings):
            return "dast"
        return "sast"

    def declared_rules(self) -> list[ScanRule]:
        return [
            ScanRule(tool=self.tool, rule_id=rule.id, name=rule.name, cwes=rule.cwes)
            for component in self.components
            for rule in component
        ]

    # ------------------------------------------------------------------ rules, taxonomies

    def _taxonomies(self) -> list[_Taxonomy]:
        place = self.place / "taxonomies"
        taxonomies = []
        for number, value in enumerate(place.array(self.run.get("taxonomies"))):
            taxonomy = place.obj(value, number)
            taxa = place.array(taxonomy.get("taxa"), number, "taxa")
            name = taxonomy.get("name")
            guid = taxonomy.get("guid")
            taxonomies.append(
                _Taxonomy(
                    name=name if isinstance(name, str) else "",
                    guid=guid.lower() if isinstance(guid, str) else "",
                    taxa=taxa,
                )
            )
        return taxonomies

    def _taxonomy_for(self, component: Any) -> _Taxonomy | None:
        if not isinstance(component, dict):
            return None
        index = component.get("index")
        if type(index) is int and 0 <= index < len(self.taxonomies):
            return self.taxonomies[index]
        guid = component.get("guid")
        if isinstance(guid, str):
            for taxonomy in self.taxonomies:
                if taxonomy.guid == guid.lower():
                    return taxonomy
        name = component.get("name")
        if isinstance(name, str):
            for taxonomy in self.taxonomies:
                if taxonomy.name.lower() == name.lower():
                    return taxonomy
        return None

    def _cwe_of_reference(self, reference: Any) -> str | None:
        """A ``reportingDescriptorReference`` (a ``taxa`` entry or a relationship target)
        pointing into a CWE taxonomy, as ``CWE-<n>``."""
        if not isinstance(reference, dict):
            return None
        component = reference.get("toolComponent")
        taxonomy = self._taxonomy_for(component)
        if taxonomy is None:
            named = isinstance(component, dict) and str(component.get("name", "")).upper() == "CWE"
            ref_id = reference.get("id")
            return cwe_from_field(ref_id) if named else cwe_from_text(ref_id)
        if taxonomy.name.upper() != "CWE":
            return None
        taxon_id = reference.get("id")
        index = reference.get("index")
        if type(index) is int and 0 <= index < len(taxonomy.taxa):
            taxon = taxonomy.taxa[index]
            if isinstance(taxon, dict) and taxon.get("id") is not None:
                taxon_id = taxon.get("id")
        elif taxon_id is None and isinstance(reference.get("guid"), str):
            wanted = reference["guid"].lower()
            for taxon in taxonomy.taxa:
                if isinstance(taxon, dict) and str(taxon.get("guid", "")).lower() == wanted:
                    taxon_id = taxon.get("id")
                    break
        return cwe_from_field(taxon_id)

    def _cwes_of_properties(self, properties: dict[str, Any]) -> list[str | None]:
        found: list[str | None] = []
        tags = properties.get("tags")
        if isinstance(tags, list):
            found.extend(cwe_from_text(tag) for tag in tags)
        for key in ("cwe", "CWE", "cwes", "cwe_ids"):
            value = properties.get(key)
            values = value if isinstance(value, list) else [value]
            found.extend(cwe_from_field(item) for item in values)
        return found

    def _rules(self, value: Any, place: Place) -> list[_Rule]:
        rules = []
        for number, item in enumerate(place.array(value)):
            rule = place.obj(item, number, optional=False)
            rule_id = place.text(rule.get("id"), number, "id") or ""
            properties = place.obj(rule.get("properties"), number, "properties")
            cwes = self._cwes_of_properties(properties)
            if _CWE_RULE_ID.match(rule_id):  # a rule named after its weakness ("CWE-79")
                cwes.append(cwe_from_text(rule_id))
            relationships = rule.get("relationships")
            if isinstance(relationships, list):
                cwes.extend(
                    self._cwe_of_reference(rel.get("target"))
                    for rel in relationships
                    if isinstance(rel, dict)
                )
            configuration = rule.get("defaultConfiguration")
            level = configuration.get("level") if isinstance(configuration, dict) else None
            tags = properties.get("tags")
            name = _text_of(rule.get("name")) or _text_of(rule.get("shortDescription"))
            strings = rule.get("messageStrings")
            rules.append(
                _Rule(
                    id=rule_id,
                    name=name,
                    cwes=sorted_cwes(cwes),
                    tags=tuple(str(tag) for tag in tags if isinstance(tag, str))
                    if isinstance(tags, list)
                    else (),
                    level=level if isinstance(level, str) else None,
                    severity=severity_from_score(properties.get("security-severity")),
                    message_strings=strings if isinstance(strings, dict) else {},
                )
            )
        return rules

    def _rule_of(self, result: dict[str, Any], rule_id: str | None) -> _Rule | None:
        reference = result.get("rule")
        component_index = 0
        index = result.get("ruleIndex")
        if isinstance(reference, dict):
            component = reference.get("toolComponent")
            if isinstance(component, dict) and type(component.get("index")) is int:
                component_index = component["index"] + 1  # extensions follow the driver
            if type(reference.get("index")) is int:
                index = reference["index"]
        if type(index) is int and 0 <= component_index < len(self.components):
            rules = self.components[component_index]
            if 0 <= index < len(rules):
                return rules[index]
        if rule_id:
            rule = self.by_id.get(rule_id)
            if rule is None and "/" in rule_id:
                rule = self.by_id.get(rule_id.split("/", 1)[0])
            return rule
        return None

    # ------------------------------------------------------------------ results

    def findings(self) -> list[ScanFinding]:
        results = self.place.array(self.run.get("results"), "results")
        found = []
        for number, value in enumerate(results):
            if type(value) is not dict:
                self.place.at("results", number).fail("expected a result object")
            if isinstance(value.get("kind"), str) and value["kind"] in _SKIPPED_KINDS:
                continue
            found.append(self._finding(value, self.place.at("results", number)))
        return found

    def _finding(self, result: dict[str, Any], place: Place) -> ScanFinding:
        reference = result.get("rule")
        rule_id = result.get("ruleId")
        if rule_id is None and isinstance(reference, dict):
            rule_id = reference.get("id")
        rule_id = place.text(rule_id, "ruleId")
        rule = self._rule_of(result, rule_id)
        if not rule_id:
            rule_id = rule.id if rule else ""

        properties = place.obj(result.get("properties"), "properties")
        taxa = result.get("taxa")
        cwes: tuple[str, ...] = rule.cwes if rule else ()
        if properties or taxa:
            found = self._cwes_of_properties(properties) if properties else []
            if isinstance(taxa, list):
                found.extend(self._cwe_of_reference(taxon) for taxon in taxa)
            cwes = sorted_cwes([*found, *cwes])
        tags = rule.tags if rule else ()
        result_tags = properties.get("tags")
        if isinstance(result_tags, list):
            extra = (tag for tag in result_tags if isinstance(tag, str))
            tags = tuple(dict.fromkeys([*tags, *extra]))

        location, snippet = self._location(result, place)
        package = self._package(result, rule_id, properties)
        suppressed, suppression = _suppression(result, place)
        if package is not None:
            fingerprint = sca_fingerprint(
                self.tool, package.vulnerability_id, package.name, package.version
            )
        else:
            fingerprint = tool_fingerprint(
                self.tool,
                rule_id,
                _mapping(result.get("partialFingerprints")),
                _mapping(result.get("fingerprints")),
            ) or (
                dast_fingerprint(self.tool, rule_id, location.method, location.url, location.param)
                if location.url
                else sast_fingerprint(
                    self.tool, rule_id, location.uri, snippet, location.start_line
                )
            )
        return ScanFinding(
            tool=self.tool,
            rule_id=rule_id,
            rule_name=rule.name if rule else None,
            message=cap(self._message(result, rule, place), MAX_MESSAGE_CHARS) or "",
            severity=self._severity(result, rule, properties),
            cwes=cwes,
            location=location,
            snippet=cap(snippet, MAX_SNIPPET_CHARS),
            fingerprint=fingerprint,
            suppressed=suppressed,
            suppression=suppression,
            package=package,
            tags=tags,
        )

    def _severity(
        self, result: dict[str, Any], rule: _Rule | None, properties: dict[str, Any]
    ) -> Severity:
        by_score = severity_from_score(properties.get("security-severity")) if properties else None
        if by_score is None and rule is not None:
            by_score = rule.severity
        if by_score is not None:
            return by_score
        level = result.get("level")
        if not isinstance(level, str) and rule is not None:
            level = rule.level
        if level == "none":
            return "info"
        return severity_from_word(level) or "medium"

    def _message(self, result: dict[str, Any], rule: _Rule | None, place: Place) -> str:
        message = place.obj(result.get("message"), "message")
        text = message.get("text")
        if not isinstance(text, str):
            text = message.get("markdown")
        if not isinstance(text, str):
            message_id = message.get("id") or message.get("messageId")
            template = None
            if isinstance(message_id, str):
                template = (rule.message_strings if rule else {}).get(
                    message_id
                ) or self.global_strings.get(message_id)
            text = _text_of(template) or ""
        arguments = message.get("arguments")
        if isinstance(arguments, list) and "{" in text:
            text = _ARGUMENT.sub(
                lambda m: (
                    str(arguments[int(m.group(1))])
                    if int(m.group(1)) < len(arguments)
                    else m.group(0)
                ),
                text,
            )
        if "](" in text:
            text = _EMBEDDED_LINK.sub(lambda m: m.group(1), text)
        return text.replace("\\[", "[").replace("\\]", "]").strip()

    def _location(self, result: dict[str, Any], place: Place) -> tuple[Location, str | None]:
        url = method = param = None
        request = result.get("webRequest")
        if isinstance(request, dict):
            url = request.get("target") if isinstance(request.get("target"), str) else None
            method = request.get("method") if isinstance(request.get("method"), str) else None
            method = method.upper() if method else None
        locations = place.array(result.get("locations"), "locations")
        if not locations:
            target = result.get("analysisTarget")
            uri = _text_of(target.get("uri")) if isinstance(target, dict) else None
            return Location(uri=uri, url=url, method=method, param=param), None
        at = ("locations", 0, "physicalLocation")
        physical = place.obj(place.obj(locations[0], *at[:2]).get("physicalLocation"), *at)
        artifact = physical.get("artifactLocation") or physical.get("fileLocation")
        artifact = place.obj(artifact, *at, "artifactLocation")
        uri = artifact.get("uri")
        if uri is None and type(artifact.get("index")) is int:
            uri = self._artifact_uri(artifact["index"])
        uri = place.text(uri, *at, "artifactLocation", "uri")
        region = place.obj(physical.get("region"), *at, "region")
        snippet_value = region.get("snippet")
        snippet = _text_of(snippet_value) if snippet_value is not None else None
        start_line = place.integer(region.get("startLine"), *at, "region", "startLine")
        end_line = place.integer(region.get("endLine"), *at, "region", "endLine") or start_line
        start_column = place.integer(region.get("startColumn"), *at, "region", "startColumn")
        return (
            Location(
                uri=uri.replace("\\", "/") if uri else uri,
                start_line=start_line,
                end_line=end_line,
                start_column=start_column,
                url=url,
                method=method,
                param=param,
            ),
            snippet or None,
        )

    def _artifact_uri(self, index: int) -> str | None:
        if isinstance(self.artifacts, list) and 0 <= index < len(self.artifacts):
            artifact = self.artifacts[index]
            if isinstance(artifact, dict):
                location = artifact.get("location")
                if isinstance(location, dict) and isinstance(location.get("uri"), str):
                    return str(location["uri"])
        return None

    def _package(
        self, result: dict[str, Any], rule_id: str, properties: dict[str, Any]
    ) -> PackageRef | None:
        """SCA results in SARIF have no standard package field: the vulnerability is the
        rule id, the package is in tool-specific properties or message lines."""
        if self.tool not in _SCA_TOOLS and not _VULN_ID.match(rule_id):
            return None
        text = _text_of(result.get("message")) or ""
        name = version = fixed = None
        purl = properties.get("purl") if isinstance(properties.get("purl"), str) else None
        fields = dict(_TRIVY_FIELD.findall(text))
        if fields:
            name = fields.get("Package")
            version = fields.get("Installed Version")
            fixed = fields.get("Fixed Version")
        else:
            grype = _GRYPE_PACKAGE.search(text)
            if grype:
                name, version = grype.group("name"), grype.group("version")
        if name is None and purl is None and not _VULN_ID.match(rule_id):
            return None
        return PackageRef(
            name=name.strip() if name else None,
            version=version.strip() if version else None,
            purl=purl,
            vulnerability_id=rule_id or None,
            fixed_version=fixed.strip() if fixed else None,
        )


def _mapping(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


_LEGACY_STATES = {"suppressedInSource": "inSource", "suppressedExternally": "external"}


def _suppression(result: dict[str, Any], place: Place) -> tuple[bool, Suppression | None]:
    """(suppressed?, the suppression that decides it or the first one recorded)."""
    if "suppressions" not in result and "suppressionStates" not in result:
        return False, None
    recorded: list[Suppression] = []
    for number, value in enumerate(place.array(result.get("suppressions"), "suppressions")):
        item = place.obj(value, "suppressions", number, optional=False)
        kind, status, justification = (
            item.get("kind"),
            item.get("status"),
            item.get("justification"),
        )
        recorded.append(
            Suppression(
                kind=kind if isinstance(kind, str) else "external",
                status=status if isinstance(status, str) else None,
                justification=cap(justification, MAX_MESSAGE_CHARS)
                if isinstance(justification, str)
                else None,
            )
        )
    states = result.get("suppressionStates")  # SARIF 2.0
    if isinstance(states, list):
        recorded.extend(
            Suppression(kind=_LEGACY_STATES[state])
            for state in states
            if isinstance(state, str) and state in _LEGACY_STATES
        )
    for suppression in recorded:
        if suppression.status in (None, "accepted"):
            return True, suppression
    return False, recorded[0] if recorded else None
