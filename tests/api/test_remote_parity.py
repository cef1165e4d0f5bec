"""Every command that reads or changes data prints the same thing locally and with
``--server``: the local run opens the server's own database, the remote one goes over HTTP
to the real server on 127.0.0.1, and the two outputs (tables and --json) must be equal."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from meshward.cli.common import state
from meshward.cli.main import app
from tests.api.conftest import Server, age_half_the_findings
from tests.sync.test_osv_source import Bucket, _Handler, bucket

__all__ = ["bucket"]

Run = Callable[..., Result]

PAYMENTS = {"checkout", "fraud-detection", "ledger", "payment-gateway"}
DEMO_CATALOG = Path(__file__).resolve().parents[2] / "src" / "meshward" / "demo" / "catalog"


@pytest.fixture(autouse=True)
def _forget_the_server() -> Iterator[None]:
    """The CLI keeps ``--server`` in a module global: leave none behind for other tests."""
    yield
    state.server = None
    state.db_url = None


@pytest.fixture(scope="module", autouse=True)
def _old_findings(server: Server) -> None:
    age_half_the_findings(server.store)


@pytest.fixture(scope="module")
def local(api_db: str, server: Server) -> Run:
    """The CLI on the server's database file, as if run on the server's machine."""
    runner = CliRunner()

    def run(*args: str, ok: bool = True) -> Result:
        result = runner.invoke(app, ["--db", api_db, *args], env={"MESHWARD_SERVER": None})
        if ok:
            assert result.exit_code == 0, result.output + repr(result.exception)
        return result

    return run


@pytest.fixture(scope="module")
def remote(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Run]:
    """The CLI over HTTP as ``who``; the database it would open locally does not exist."""
    runner = CliRunner()
    absent = tmp_path_factory.mktemp("remote") / "absent" / "never.db"

    def as_(who: str = "admin") -> Run:
        def run(*args: str, ok: bool = True) -> Result:
            env = {
                "MESHWARD_SERVER": server.url,
                "MESHWARD_TOKEN": server.tokens[who],
                "MESHWARD_DATABASE_URL": f"sqlite:///{absent}",
            }
            result = runner.invoke(app, ["--db", f"sqlite:///{absent}", *args], env=env)
            if ok:
                assert result.exit_code == 0, result.output + repr(result.exception)
            assert not absent.parent.exists()  # nothing opened a local database
            return result

        return run

    return as_


READS: list[tuple[str, ...]] = [
    ("catalog", "tree"),
    ("catalog", "show", "checkout"),
    ("catalog", "show", "system:webshop"),
    ("catalog", "show", "group:payments-team"),
    ("catalog", "links"),
    ("component", "version", "list", "search"),
    ("app", "version", "list", "webshop"),
    ("app", "version", "show", "webshop"),
    ("app", "version", "show", "webshop", "2026.08"),
    ("deploy", "list", "--env", "prod"),
    ("deploy", "list", "--history", "--component", "search"),
    ("deploy", "list", "--at", "2026-09-01T00:00:00Z"),
    ("deploy", "envs"),
    ("sbom", "show", "search", "4.2.0"),
    ("advisories", "list", "--limit", "20"),
    ("advisories", "list", "--search", "log4j"),
    ("advisories", "show", "CVE-2021-44228"),
    ("findings", "list"),
    ("findings", "list", "--env", "prod", "--severity", "critical", "--severity", "high"),
    ("findings", "list", "--app", "webshop", "--app-version", "2026.08"),
    ("findings", "list", "--overdue", "--limit", "7"),
    ("findings", "list", "--component", "search", "--version", "4.2.0", "--include-resolved"),
    ("findings", "events", "--limit", "30"),
    ("triage", "stats"),
    ("blast-radius", "CVE-2021-44228"),
    ("blast-radius", "log4j-core", "--env", "prod"),
    ("blast-radius", "pkg:maven/org.apache.logging.log4j/log4j-core@>=2.0,<2.17.1"),
    ("app", "risk", "webshop"),
    ("app", "risk", "webshop", "--version", "2026.08"),
    ("domain", "risk", "acme.payments"),
    ("app", "diff", "webshop", "2026.08", "2026.10"),
    ("component", "diff", "search", "4.2.0", "4.3.1"),
    ("app", "fix-plan", "webshop"),
    ("app", "trend", "webshop"),
    ("domain", "trend", "acme"),
    ("risk", "status"),
    ("audit", "list", "--limit", "40"),
]


def _comparable(args: tuple[str, ...], out: str, as_json: bool) -> Any:
    """The output, less what differs between two runs by design: the moment a blast
    radius is taken at."""
    if not as_json:
        return out
    data = json.loads(out)
    if args[0] == "blast-radius":
        data.pop("at")
    return data


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
@pytest.mark.parametrize("args", READS, ids=lambda a: " ".join(a))
def test_reads_print_the_same_locally_and_remotely(
    local: Run, remote: Callable[..., Run], args: tuple[str, ...], as_json: bool
) -> None:
    extra = ("--json",) if as_json else ()
    here = local(*args, *extra).stdout
    there = remote()(*args, *extra).stdout
    assert _comparable(args, there, as_json) == _comparable(args, here, as_json)
    assert here.strip()


def test_lists_longer_than_a_page_arrive_whole(local: Run, remote: Callable[..., Run]) -> None:
    """Lists follow ``next`` cursors; the server cuts pages in SQL (500 items at most)."""
    here = json.loads(local("findings", "list", "--include-resolved", "--json").stdout)
    there = json.loads(remote()("findings", "list", "--include-resolved", "--json").stdout)
    assert there == here and len(here) > 0
    overdue = json.loads(remote()("findings", "list", "--overdue", "--json").stdout)
    assert overdue and all(f["overdue"] for f in overdue)
    assert len(overdue) < len([f for f in here if f["active"]])


def test_exports_are_the_same_documents(local: Run, remote: Callable[..., Run]) -> None:
    def bom(run: Run) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(run("sbom", "export", "webshop").stdout)
        for key in ("serialNumber", "metadata"):
            data.pop(key)
        return data

    assert bom(remote()) == bom(local)
    args = ("vex", "export", "search", "4.2.0", "--format", "openvex", "--author", "ci")
    here, there = json.loads(local(*args).stdout), json.loads(remote()(*args).stdout)
    for doc in (here, there):
        doc.pop("timestamp"), doc.pop("@id")
    assert there == here


def test_scoped_tokens_see_only_their_domains(remote: Callable[..., Run]) -> None:
    viewer = remote("payments-viewer")
    tree = json.loads(viewer("catalog", "tree", "--json").stdout)
    assert [d["path"] for d in tree["domains"]] == ["acme.payments"]
    assert not tree["components"] and not tree["applications"]
    deployed = json.loads(viewer("deploy", "list", "--history", "--json").stdout)
    assert deployed and {d["component"] for d in deployed} <= PAYMENTS
    links = json.loads(viewer("catalog", "links", "--json").stdout)
    assert links and {link["consumer"].split("/")[-1] for link in links} <= PAYMENTS
    hidden = viewer("catalog", "show", "search", ok=False)
    assert hidden.exit_code == 1 and "404" in str(hidden.exception)
    events = json.loads(viewer("findings", "events", "--json").stdout)
    assert {e["component"] for e in events} <= PAYMENTS
    denied = viewer("triage", "stats", ok=False)
    assert "403" in str(denied.exception)


# ---------------------------------------------------------------- changes over the API


def test_catalog_import_remotely_follows_locations(local: Run, remote: Callable[..., Run]) -> None:
    """Descriptors are read here (Locations followed) and sent in batches; the same files
    again change nothing on the server, as locally."""
    first = json.loads(
        remote()("catalog", "import", str(DEMO_CATALOG / "all.yaml"), "--json").stdout
    )
    assert first["files"] > 1 and not first["created"] and not first["updated"]
    assert first["unchanged"] > 10
    again = json.loads(local("catalog", "import", str(DEMO_CATALOG / "all.yaml"), "--json").stdout)
    assert again["unchanged"] >= first["unchanged"] and not again["created"]


def test_component_and_deployment_changes(local: Run, remote: Callable[..., Run]) -> None:
    editor = remote("payments-editor")
    assert editor("component", "add", "refunds", "--domain", "acme.payments").stdout == (
        "component component:default/refunds\n"
    )
    assert "refunds" in local("catalog", "show", "refunds").stdout
    editor("component", "version", "add", "refunds", "1.0.0", "--commit", "abc")
    assert editor("deploy", "record", "qa", "refunds", "1.0.0", "--at", "2026-11-01T00:00:00Z")
    ended = editor("deploy", "end", "qa", "refunds", "--at", "2026-11-02T00:00:00Z").stdout
    assert ended == "ended\n"
    assert editor("deploy", "end", "qa", "refunds").stdout == "it was not running there\n"
    history = json.loads(
        local("deploy", "list", "--history", "--component", "refunds", "--json").stdout
    )
    assert history == [
        {
            "environment": "qa",
            "component": "refunds",
            "version": "1.0.0",
            "since": "2026-11-01T00:00:00Z",
            "until": "2026-11-02T00:00:00Z",
            "production": False,
        }
    ]
    denied = remote("commerce-editor")("deploy", "end", "qa", "refunds", ok=False)
    assert denied.exit_code == 1 and "404" in str(denied.exception)


def test_findings_analysis_carry_and_triage(local: Run, remote: Callable[..., Run]) -> None:
    admin = remote()
    found = json.loads(
        local("findings", "list", "--component", "search", "--version", "4.2.0", "--json").stdout
    )
    first = found[0]
    out = admin(
        "findings", "analyse", str(first["id"]), "--state", "in_triage", "--detail", "looking"
    )
    assert out.stdout == "1 findings set to in_triage\n"
    after = json.loads(
        local("findings", "list", "--component", "search", "--version", "4.2.0", "--json").stdout
    )
    mine = next(f for f in after if f["id"] == first["id"])
    assert mine["state"] == "in_triage" and mine["analysed_by"] == "admin"
    carried = admin("findings", "carry", "search", "4.2.0", "4.3.1").stdout
    assert carried.endswith("analyses carried from 4.2.0 to 4.3.1\n")
    add = ("triage", "add", "--vuln", first["vulnerability"], "--state", "exploitable")
    rule = admin(*add, "--scope", "component", "--target", "search").stdout
    assert rule.startswith("rule ") and "set to exploitable" in rule
    rule_id = rule.split()[1].rstrip(":")
    assert local("triage", "list").stdout == admin("triage", "list").stdout
    assert admin("triage", "revoke", rule_id).stdout == f"rule {rule_id} revoked\n"
    assert admin("triage", "sla", "critical", "10", "--domain", "acme.commerce").stdout == (
        "critical: 10 days in acme.commerce\n"
    )
    assert (
        local("findings", "list", "--overdue").stdout
        == admin("findings", "list", "--overdue").stdout
    )


def test_vex_and_advisories_imports(local: Run, remote: Callable[..., Run], tmp_path: Path) -> None:
    admin = remote()
    doc = local("vex", "export", "search", "4.2.0", "--format", "openvex").stdout
    vex_file = tmp_path / "search.vex.json"
    vex_file.write_text(doc)
    args = ("vex", "import", str(vex_file), "--component", "search", "--version", "4.2.0")
    report = json.loads(admin(*args, "--json").stdout)
    assert report["statements"] > 0 and not report["unmatched"]
    advisory = {
        "schema_version": "1.6.0",
        "id": "MESHWARD-TEST-1",
        "modified": "2026-11-20T00:00:00Z",
        "published": "2026-11-20T00:00:00Z",
        "summary": "a test advisory against ledger's driver",
        "affected": [
            {
                "package": {"ecosystem": "Maven", "name": "org.postgresql:postgresql"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99"}]}],
            }
        ],
    }
    folder = tmp_path / "osv"
    folder.mkdir()
    (folder / "a.json").write_text(json.dumps(advisory))
    imported = json.loads(admin("advisories", "import", str(folder), "--json").stdout)
    assert imported["read"] == 1 and imported["created"] == 1
    again = json.loads(admin("advisories", "import", str(folder), "--json").stdout)
    assert again["unchanged"] == 1 and again["created"] == 0
    shown = local("advisories", "show", "MESHWARD-TEST-1").stdout
    assert shown == admin("advisories", "show", "MESHWARD-TEST-1").stdout


@pytest.fixture
def osv_bucket(bucket: Bucket) -> Iterator[str]:
    """A local stand-in for the OSV bucket (the sync tests' own), on 127.0.0.1."""
    handler = type("Handler", (_Handler,), {"bucket": bucket})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_sync_downloads_here_and_imports_on_the_server(
    local: Run, remote: Callable[..., Run], osv_bucket: str, tmp_path: Path
) -> None:
    sync = ("advisories", "sync", "-e", "PyPI", "--source", osv_bucket, "--cache")
    report = json.loads(remote()(*sync, str(tmp_path / "a"), "--json").stdout)
    assert report["import"]["read"] == 3 and report["import"]["created"] == 3
    assert "PYSEC-2024-1" in local("advisories", "show", "PYSEC-2024-1").stdout
    denied = remote("payments-editor")(*sync, str(tmp_path / "b"), ok=False)  # estate-wide
    assert "403" in str(denied.exception)
    here = json.loads(local("advisories", "list", "--ecosystem", "PyPI", "--json").stdout)
    viewer = remote("payments-viewer")
    there = json.loads(viewer("advisories", "list", "--ecosystem", "PyPI", "--json").stdout)
    assert there == here


def test_risk_evidence_and_snapshots(
    local: Run, remote: Callable[..., Run], tmp_path: Path
) -> None:
    admin = remote()
    kev = {
        "title": "CISA Catalog of Known Exploited Vulnerabilities",
        "catalogVersion": "2026.11.24",
        "dateReleased": "2026-11-24T12:00:00.000Z",
        "count": 1,
        "vulnerabilities": [
            {
                "cveID": "CVE-2021-44228",
                "vendorProject": "Apache",
                "product": "Log4j2",
                "vulnerabilityName": "Apache Log4j2 Remote Code Execution Vulnerability",
                "dateAdded": "2021-12-10",
                "shortDescription": "JNDI does not protect against attacker-controlled LDAP.",
                "requiredAction": "Apply updates per vendor instructions.",
                "dueDate": "2021-12-24",
                "knownRansomwareCampaignUse": "Known",
                "notes": "",
            }
        ],
    }
    kev_file = tmp_path / "kev.json"
    kev_file.write_text(json.dumps(kev))
    out = admin("risk", "import-kev", str(kev_file)).stdout
    assert out.startswith("KEV catalog 2026.11.24: 1 entries")
    epss_file = tmp_path / "epss.csv.gz"
    epss_file.write_bytes(
        gzip.compress(
            b"#model_version:v2025.03.14,score_date:2026-11-24T00:00:00+0000\n"
            b"cve,epss,percentile\nCVE-2021-44228,0.94358,0.99957\n"
        )
    )
    out = admin("risk", "import-epss", str(epss_file), "--json").stdout
    assert json.loads(out)["entries"] == 1
    assert local("risk", "status").stdout == admin("risk", "status").stdout
    snap = json.loads(admin("risk", "snapshot", "--json").stdout)
    assert snap["applications"] >= 2 and snap["domains"] >= 1
    assert local("app", "trend", "webshop").stdout == admin("app", "trend", "webshop").stdout
    denied = remote("payments-editor")("risk", "snapshot", ok=False)
    assert "403" in str(denied.exception)


def test_tokens_list_and_revoke(local: Run, remote: Callable[..., Run]) -> None:
    admin = remote()
    names = [t["name"] for t in json.loads(admin("token", "list", "--json").stdout)]
    assert "payments-readonly-editor" in names
    assert admin("token", "revoke", "payments-readonly-editor").stdout == (
        "token payments-readonly-editor revoked\n"
    )
    listed = json.loads(local("token", "list", "--json").stdout)
    gone = next(t for t in listed if t["name"] == "payments-readonly-editor")
    assert gone["revoked_at"]
    denied = remote("payments-editor")("token", "list", ok=False)
    assert "403" in str(denied.exception)


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("db upgrade", ()),
        ("db status", ()),
        ("serve", ()),
        ("demo", ()),
        ("token create", ("--role", "viewer")),
        ("sbom from-manifest", ("ledger", "1.0.4", ".")),
    ],
    ids=lambda a: a if isinstance(a, str) else "",
)
def test_local_only_commands_refuse_in_one_line(
    remote: Callable[..., Run], name: str, args: tuple[str, ...]
) -> None:
    result = remote()(*name.split(), *args, ok=False)
    assert result.exit_code == 1
    message = str(result.exception)
    assert message.startswith(f"{name} does not run against --server: ") and "\n" not in message
