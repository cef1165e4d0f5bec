"""Synthetic estates of any size, with a fixed seed: Backstage descriptors (domains, systems,
components, APIs, consumer links, groups), builds and deployments; later, SBOMs.

    python -m bench.estate --services 5000 --out bench/out/estate-5000

Layout, shared with ``bench/impact.py``: service ``i`` belongs to application (Backstage
System) ``i % A`` and, through it, to domain ``(i % A) % D``, with A = N/12 applications and
D = N/250 domains. Who calls whom over APIs is ``api_links``.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
from dataclasses import dataclass, field
from pathlib import Path

import yaml

LANGUAGES = ["go", "java", "python", "typescript", "csharp", "rust", "ruby"]


@dataclass
class Estate:
    domains: list[str] = field(default_factory=list)
    systems: dict[str, str] = field(default_factory=dict)  # system -> domain
    services: dict[str, str] = field(default_factory=dict)  # service -> system
    consumes: dict[str, list[str]] = field(default_factory=dict)  # service -> apis


def counts(services: int) -> tuple[int, int]:
    """(applications, domains) of an estate of ``services`` services."""
    return max(2, services // 12), max(2, services // 250)


PLATFORM_SHARE = 0.01
"""The oldest 1% of services are the shared platform (auth, config, audit, feature flags)."""
PUBLIC_PER_DOMAIN = 3
"""The oldest services of a domain are its public face: what other domains call."""
CALLS_MEAN = 5.0
"""Calls a service makes, on average, before repeats are dropped: ~20,000 links for 5,000."""


def _zipf(n: int, exponent: float) -> list[float]:
    """Cumulative weights of ranks 0..n-1, rank r weighing 1 / (r + 1) ** exponent."""
    return list(itertools.accumulate(1 / (rank + 1) ** exponent for rank in range(n)))


def _pick(cumulative: list[float], n: int, rng: random.Random) -> int:
    """A rank below ``n`` drawn with the weights of ``cumulative``."""
    return min(n - 1, bisect.bisect_left(cumulative, rng.random() * cumulative[n - 1]))


def api_links(services: int, seed: int = 42) -> list[list[int]]:
    """For each service, the services whose API it calls: the shape of a real estate.

    - Calls per service: 1 plus an exponential draw (``CALLS_MEAN`` in all on average, at
      most 12): most services call two to six APIs, a few call a dozen.
    - About one call in five goes to the shared platform (``PLATFORM_SHARE`` of the services,
      the oldest ones), picked with a Zipf-like weight (exponent 1.2): the first platform
      service is called directly by a fifth of the estate, most platform services by a few.
    - About 72% stay in the caller's domain and go to an *older* service of it, Zipf-like
      over age (exponent 0.6): each domain is a layered graph (gateways and
      back-ends-for-frontends on top, its oldest core services at the bottom) whose core
      services have a heavy-tailed fan-in. A domain's newest services are called by nobody.
    - About 7% go to another domain's public services (its ``PUBLIC_PER_DOMAIN`` oldest).
    - 1% go to any service at all, upwards too: the graph has a few cycles, as real ones do.

    So fan-in follows a heavy tail (a few services are called by hundreds, the median one by
    one, a third by none), and transitive consumers stay mostly inside a domain, except
    behind the platform services and the domains' public faces, whose blast radius is the
    estate. Measured at 5,000 services in bench/RESULTS.md (issue 5)."""
    rng = random.Random(seed)
    n_apps, n_domains = counts(services)
    platform = max(1, int(services * PLATFORM_SHARE))
    members: list[list[int]] = [[] for _ in range(n_domains)]
    for s in range(services):
        members[(s % n_apps) % n_domains].append(s)
    rank_in_domain = {s: r for group in members for r, s in enumerate(group)}
    in_domain = _zipf(max(len(group) for group in members), 0.6)
    in_platform = _zipf(platform, 1.2)
    calls: list[list[int]] = []
    for s in range(services):
        domain = (s % n_apps) % n_domains
        older = rank_in_domain[s]
        targets: dict[int, None] = {}
        for _ in range(min(12, 1 + int(rng.expovariate(1 / (CALLS_MEAN - 1))))):
            roll = rng.random()
            if roll < 0.01:
                other = rng.randrange(services)
            elif roll < 0.08:
                group = members[rng.randrange(n_domains)]
                other = group[rng.randrange(min(PUBLIC_PER_DOMAIN, len(group)))]
            elif roll < 0.80 and older:
                other = members[domain][_pick(in_domain, older, rng)]
            else:
                other = _pick(in_platform, platform, rng)
            if other != s:
                targets[other] = None
        calls.append(list(targets))
    return calls


def generate(services: int, seed: int = 42) -> Estate:
    est = Estate()
    n_systems, n_domains = counts(services)
    est.domains = [f"domain-{i:03d}" for i in range(n_domains)]
    for i in range(n_systems):
        est.systems[f"system-{i:04d}"] = est.domains[i % n_domains]
    system_names = list(est.systems)
    names = [f"svc-{i:05d}" for i in range(services)]
    for i, (name, calls) in enumerate(zip(names, api_links(services, seed), strict=True)):
        est.services[name] = system_names[i % n_systems]
        est.consumes[name] = [f"{names[other]}-api" for other in calls]
    return est


def write_backstage(est: Estate, out: Path, per_file: int = 250) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    docs: list[dict[str, object]] = [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": f"team-{d}"},
            "spec": {"type": "team", "children": []},
        }
        for d in est.domains
    ]
    docs += [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Domain",
            "metadata": {"name": d},
            "spec": {"owner": f"team-{d}"},
        }
        for d in est.domains
    ]
    docs += [
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "System",
            "metadata": {"name": s},
            "spec": {"owner": f"team-{d}", "domain": d},
        }
        for s, d in est.systems.items()
    ]
    for i, (svc, system) in enumerate(est.services.items()):
        owner = f"team-{est.systems[system]}"
        docs.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": svc, "tags": [LANGUAGES[i % len(LANGUAGES)]]},
                "spec": {
                    "type": "service",
                    "lifecycle": "production",
                    "owner": owner,
                    "system": system,
                    "providesApis": [f"{svc}-api"],
                    "consumesApis": est.consumes[svc],
                },
            }
        )
        docs.append(
            {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "API",
                "metadata": {"name": f"{svc}-api"},
                "spec": {
                    "type": "openapi",
                    "lifecycle": "production",
                    "owner": owner,
                    "system": system,
                    "definition": "openapi: 3.0.0\n",
                },
            }
        )
    files = []
    for n, start in enumerate(range(0, len(docs), per_file)):
        path = out / f"catalog-{n:04d}.yaml"
        with path.open("w") as fh:
            yaml.safe_dump_all(docs[start : start + per_file], fh, sort_keys=False)
        files.append(path)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=Path("bench/out/estate"))
    args = parser.parse_args()
    files = write_backstage(generate(args.services, args.seed), args.out)
    print(f"wrote {len(files)} files to {args.out}")


if __name__ == "__main__":
    main()


def cyclonedx_document(packages: int, seed: int = 7) -> bytes:
    """A CycloneDX 1.6 JSON of ``packages`` npm components with hashes, licences and a full
    dependency graph (each package depends on up to three later ones)."""
    import hashlib

    import orjson

    rng = random.Random(seed)
    components = []
    for i in range(packages):
        name = f"pkg-{i:05d}"
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
        components.append(
            {
                "type": "library",
                "bom-ref": f"pkg:npm/{name}@{version}",
                "name": name,
                "version": version,
                "purl": f"pkg:npm/{name}@{version}",
                "hashes": [
                    {"alg": "SHA-256", "content": hashlib.sha256(name.encode()).hexdigest()}
                ],
                "licenses": [{"license": {"id": rng.choice(["MIT", "ISC", "Apache-2.0"])}}],
                "scope": "required",
            }
        )
    refs = [c["bom-ref"] for c in components]
    dependencies = [{"ref": "app", "dependsOn": refs[:20]}]
    for i, ref in enumerate(refs):
        later = refs[i + 1 : i + 40]
        dependencies.append({"ref": ref, "dependsOn": rng.sample(later, min(3, len(later)))})
    return orjson.dumps(
        {
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
            "version": 1,
            "metadata": {"component": {"type": "application", "bom-ref": "app", "name": "big"}},
            "components": components,
            "dependencies": dependencies,
        }
    )


def spdx_document(packages: int, seed: int = 7) -> bytes:
    """An SPDX 2.3 JSON of ``packages`` npm packages with checksums and DEPENDS_ON edges."""
    import hashlib

    import orjson

    rng = random.Random(seed)
    pkgs = [
        {
            "SPDXID": "SPDXRef-root",
            "name": "big",
            "versionInfo": "1.0.0",
            "downloadLocation": "NOASSERTION",
        }
    ]
    rels = [
        {
            "spdxElementId": "SPDXRef-DOCUMENT",
            "relationshipType": "DESCRIBES",
            "relatedSpdxElement": "SPDXRef-root",
        }
    ]
    for i in range(packages):
        name = f"pkg-{i:05d}"
        version = f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)}"
        pkgs.append(
            {
                "SPDXID": f"SPDXRef-{i}",
                "name": name,
                "versionInfo": version,
                "downloadLocation": "NOASSERTION",
                "licenseConcluded": "MIT",
                "checksums": [
                    {
                        "algorithm": "SHA256",
                        "checksumValue": hashlib.sha256(name.encode()).hexdigest(),
                    }
                ],
                "externalRefs": [
                    {
                        "referenceCategory": "PACKAGE-MANAGER",
                        "referenceType": "purl",
                        "referenceLocator": f"pkg:npm/{name}@{version}",
                    }
                ],
            }
        )
        parent = "SPDXRef-root" if i < 20 else f"SPDXRef-{rng.randint(0, i - 1)}"
        rels.append(
            {
                "spdxElementId": parent,
                "relationshipType": "DEPENDS_ON",
                "relatedSpdxElement": f"SPDXRef-{i}",
            }
        )
    return orjson.dumps(
        {
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": "big",
            "documentNamespace": "https://example.com/big",
            "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: bench"]},
            "packages": pkgs,
            "relationships": rels,
        }
    )
