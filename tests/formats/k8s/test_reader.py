"""Reading manifests and kubectl output: every kind meshward uses, places in errors, and
hostile input refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from meshward.errors import InputError
from meshward.formats.k8s import read_manifests
from meshward.formats.k8s.objects import K8sRead
from meshward.formats.k8s.reader import read_text
from meshward.limits import Limits

FIXTURES = Path(__file__).parent / "fixtures"


def _read(text: str, limits: Limits | None = None) -> K8sRead:
    read = K8sRead()
    read_text(text.encode(), "test.yaml", limits or Limits(), read, "default")
    return read


def test_shop_manifests() -> None:
    read = read_manifests([FIXTURES / "shop.yaml"], Limits())
    refs = [w.ref for w in read.workloads]
    assert refs == [
        "shop/Deployment/web",
        "shop/StatefulSet/db",
        "shop/CronJob/report",
        "shop/Pod/debug",
    ]
    assert read.skipped == {"Pod (owned by a controller)": 1, "ConfigMap": 1}
    web, db, report, debug = read.workloads
    assert web.labels["app.kubernetes.io/version"] == "1.4.0"
    assert web.pod_labels == {"app": "web"}
    assert web.service_account == "web"
    assert [(c.name, c.init) for c in web.containers] == [("migrate", True), ("server", False)]
    server = web.containers[1]
    assert server.ref is not None and server.ref.registry == "registry.acme.example:5000"
    assert (server.ref.repository, server.ref.tag) == ("shop/web", "v1.4.0")
    assert server.ports == (8080,)
    sc = server.security
    assert (sc.run_as_non_root, sc.run_as_user) == (True, 1000)  # from the pod
    assert (sc.read_only_root_filesystem, sc.allow_privilege_escalation) == (True, False)
    assert sc.capabilities_drop == ("ALL",) and sc.privileged is None
    assert db.containers[0].ref is not None and db.containers[0].ref.digest.startswith(
        "sha256:4aea"
    )
    assert report.containers[0].security.privileged is True
    assert report.containers[0].security.capabilities_add == ("NET_ADMIN",)
    assert report.service_account == "default"
    assert debug.containers[0].ref is not None
    assert debug.containers[0].ref.name == "docker.io/library/busybox"
    assert [(s.name, s.selector, [p.port for p in s.ports]) for s in read.services] == [
        ("web", {"app": "web"}, [80]),
        ("db", {"app": "db"}, [5432]),
    ]
    assert [n.name for n in read.namespaces] == ["shop"]
    assert read.mesh_seen
    assert [(p.namespace, p.mode, p.selector) for p in read.peer_authentications] == [
        ("istio-system", "STRICT", None)
    ]
    assert [(p.name, p.selector is None, p.rules) for p in read.authorization_policies] == [
        ("deny-by-default", True, 0),
        ("web-from-gateway", False, 1),
    ]
    gateway = read.gateways[0]
    assert (gateway.api, gateway.selector, gateway.ingress) == (
        "istio",
        (("istio", "ingressgateway"),),
        True,
    )
    assert gateway.servers[0].hosts == ("shop.acme.example",)
    assert gateway.servers[0].tls_mode == "SIMPLE"
    public, internal = read.routes
    assert (public.gateways, public.destinations) == (("shop/shop-gateway",), ("web",))
    assert (internal.gateways, internal.destinations) == (("mesh",), ("db.shop.svc.cluster.local",))
    assert [(r.host, r.tls_mode) for r in read.destination_rules] == [("db", "ISTIO_MUTUAL")]
    deny, open_ = read.network_policies
    assert deny.pod_selector.empty and deny.ingress and not deny.egress and deny.ingress_rules == 0
    assert open_.ingress_open and open_.ingress  # no policyTypes: Ingress is implied


def test_kubectl_list_json() -> None:
    read = read_manifests([FIXTURES / "kubectl-get.json"], Limits())
    assert [w.ref for w in read.workloads] == [
        "shop/Deployment/cart",
        "ops/DaemonSet/node-agent",
        "ops/CronJob/nightly",
    ]
    assert read.skipped == {"Job (owned by a controller)": 1}
    cart, agent, _ = read.workloads
    assert [c.name for c in cart.containers] == ["cart", "istio-proxy"]
    assert agent.host_network and agent.containers[0].ref is not None
    assert agent.containers[0].ref.tag is None and agent.containers[0].ref.effective_tag is None


def test_typed_list_items_take_the_list_kind() -> None:
    read = _read(
        """
apiVersion: apps/v1
kind: DeploymentList
items:
  - metadata: {name: a, namespace: x}
    spec: {template: {spec: {containers: [{name: a, image: "a:1"}]}}}
"""
    )
    assert [w.ref for w in read.workloads] == ["x/Deployment/a"]


def test_directory_and_default_namespace(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.yml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: b}\n"
        "spec: {containers: [{name: b, image: 'b:2'}]}\n"
    )
    (tmp_path / "a.yaml").write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n"
        "spec: {containers: [{name: a, image: 'a:1'}]}\n"
    )
    (tmp_path / "notes.txt").write_text("not read")
    (tmp_path / "kustomization.yaml").write_text("resources: [a.yaml]\n")
    (tmp_path / "patch.yaml").write_text(
        "$patch: delete\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: gone}\n"
    )
    read = read_manifests([tmp_path], Limits(), default_namespace="team")
    assert [w.ref for w in read.workloads] == ["team/Pod/a", "team/Pod/b"]
    assert len(read.files) == 4
    assert any("no kind" in w for w in read.warnings)
    assert any("kustomize patch" in w for w in read.warnings)


@pytest.mark.parametrize(
    ("text", "place", "message"),
    [
        (
            "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: a}\n"
            "spec: {template: {spec: {containers: {name: x}}}}\n",
            "document 1: spec.template.spec.containers",
            "expected a list",
        ),
        (
            "---\nkind: Service\napiVersion: v1\nmetadata: {name: s}\n---\n"
            "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: a}\n"
            "spec: {template: {spec: {containers: [{name: x}]}}}\n",
            "document 2: spec.template.spec.containers[0].image",
            "missing",
        ),
        (
            "kind: Deployment\napiVersion: apps/v1\nmetadata: {name: a, labels: {v: 1.2}}\n",
            "document 1: metadata.labels.v",
            "quote",
        ),
        (
            "kind: Pod\napiVersion: v1\nmetadata: {}\nspec: {containers: [{name: a, image: a}]}\n",
            "document 1: metadata.name",
            "missing",
        ),
        (
            "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: p}\n"
            "spec: {mtls: {mode: SOMETIMES}}\n",
            "document 1: spec.mtls.mode",
            "unknown mTLS mode",
        ),
        (
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: n}\n"
            "spec: {podSelector: {matchExpressions: [{key: a, operator: Near}]}}\n",
            "document 1: spec.podSelector.matchExpressions[0].operator",
            "unknown operator",
        ),
        ("- 1\n- 2\n", "document 1: [0]", "expected a Kubernetes object"),
    ],
)
def test_errors_name_file_and_place(text: str, place: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        _read(text)
    assert caught.value.source == "test.yaml"
    assert caught.value.place == place
    assert message in caught.value.message


def test_json_errors_name_the_place(tmp_path: Path) -> None:
    path = tmp_path / "get.json"
    path.write_text('{"kind": "List", "items": [{"kind": "Pod", "apiVersion": "v1",\n "metadata": ')
    with pytest.raises(InputError) as caught:
        read_manifests([path], Limits())
    assert caught.value.source == str(path) and "line 2" in (caught.value.place or "")
    path.write_text('{"kind": "List", "items": [{"kind": "Pod", "apiVersion": "v1"}]}')
    with pytest.raises(InputError) as caught:
        read_manifests([path], Limits())
    assert caught.value.place == "items[0]: metadata.name"


BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
kind: ConfigMap
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BILLION_LAUGHS, "alias bomb"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nesting deeper"),
        ("kind: !!python/object/apply:os.system ['true']\n", "could not determine a constructor"),
        ('{"kind": "List", "items": ' + "[" * 3000 + "]" * 3000 + "}", "nest"),
    ],
)
def test_hostile_input_is_refused(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        _read(text)
    assert message in str(caught.value)


def test_huge_files_are_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: '" + "x" * 5000 + "'}\n"
    )
    with pytest.raises(InputError, match="more than the limit of 1000"):
        read_manifests([path], Limits(max_bytes=1000))
    with pytest.raises(InputError, match="no such file"):
        read_manifests([tmp_path / "missing.yaml"], Limits())
