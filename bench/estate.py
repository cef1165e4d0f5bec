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
