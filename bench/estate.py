"""Synthetic estates of any size, with a fixed seed: Backstage descriptors (domains, systems,
components, APIs, consumer links, groups), builds and deployments; later, SBOMs.

    python -m bench.estate --services 5000 --out bench/out/estate-5000
"""

from __future__ import annotations

import argparse
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


def generate(services: int, seed: int = 42) -> Estate:
    rng = random.Random(seed)
    est = Estate()
    n_domains = max(2, services // 250)
    n_systems = max(2, services // 12)
    est.domains = [f"domain-{i:03d}" for i in range(n_domains)]
    for i in range(n_systems):
        est.systems[f"system-{i:04d}"] = est.domains[i % n_domains]
    system_names = list(est.systems)
    names = [f"svc-{i:05d}" for i in range(services)]
    for i, name in enumerate(names):
        est.services[name] = system_names[i % n_systems]
        # consumers call 0-4 services created before them: an acyclic, layered call graph
        k = min(i, rng.randint(0, 4))
        est.consumes[name] = [f"{n}-api" for n in rng.sample(names[:i], k)] if k else []
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
