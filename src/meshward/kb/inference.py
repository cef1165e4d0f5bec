"""Facts inferred from an SBOM's packages: languages, frameworks, datastores, messaging, parsers.

Keyed by (OSV ecosystem, normalised package name) as ``packages`` stores them; a name may be
matched exactly or by prefix (``org.springframework.boot:`` covers every Spring Boot artifact).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

LANGUAGE_OF_ECOSYSTEM = {
    "PyPI": "python",
    "Maven": "java",
    "npm": "javascript",
    "NuGet": "csharp",
    "Go": "go",
    "crates.io": "rust",
    "RubyGems": "ruby",
    "Packagist": "php",
    "Hex": "elixir",
    "Pub": "dart",
    "SwiftURL": "swift",
    "Hackage": "haskell",
    "ConanCenter": "cpp",
}

# (ecosystem, name or prefix ending in ':' '/' '.' '-', fact, value)
_RULES: tuple[tuple[str, str, str, str], ...] = (
    # frameworks
    ("PyPI", "django", "frameworks", "django"),
    ("PyPI", "flask", "frameworks", "flask"),
    ("PyPI", "fastapi", "frameworks", "fastapi"),
    ("PyPI", "starlette", "frameworks", "starlette"),
    ("PyPI", "grpcio", "frameworks", "grpc"),
    ("Maven", "org.springframework:", "frameworks", "spring"),
    ("Maven", "org.springframework.boot:", "frameworks", "spring-boot"),
    ("Maven", "io.quarkus:", "frameworks", "quarkus"),
    ("Maven", "io.micronaut:", "frameworks", "micronaut"),
    ("Maven", "io.grpc:", "frameworks", "grpc"),
    ("npm", "express", "frameworks", "express"),
    ("npm", "@nestjs/core", "frameworks", "nestjs"),
    ("npm", "koa", "frameworks", "koa"),
    ("npm", "fastify", "frameworks", "fastify"),
    ("npm", "next", "frameworks", "nextjs"),
    ("npm", "react", "frameworks", "react"),
    ("npm", "@angular/core", "frameworks", "angular"),
    ("npm", "vue", "frameworks", "vue"),
    ("npm", "@grpc/grpc-js", "frameworks", "grpc"),
    ("NuGet", "microsoft.aspnetcore.", "frameworks", "aspnetcore"),
    ("NuGet", "grpc.aspnetcore", "frameworks", "grpc"),
    ("Go", "github.com/gin-gonic/gin", "frameworks", "gin"),
    ("Go", "github.com/labstack/echo/", "frameworks", "echo"),
    ("Go", "github.com/gofiber/fiber/", "frameworks", "fiber"),
    ("Go", "google.golang.org/grpc", "frameworks", "grpc"),
    ("RubyGems", "rails", "frameworks", "rails"),
    ("RubyGems", "sinatra", "frameworks", "sinatra"),
    ("Packagist", "laravel/framework", "frameworks", "laravel"),
    ("Packagist", "symfony/", "frameworks", "symfony"),
    ("crates.io", "actix-web", "frameworks", "actix"),
    ("crates.io", "axum", "frameworks", "axum"),
    ("Hex", "phoenix", "frameworks", "phoenix"),
    # datastores
    ("PyPI", "psycopg2", "datastores", "postgres"),
    ("PyPI", "psycopg2-binary", "datastores", "postgres"),
    ("PyPI", "psycopg", "datastores", "postgres"),
    ("PyPI", "asyncpg", "datastores", "postgres"),
    ("PyPI", "pymysql", "datastores", "mysql"),
    ("PyPI", "mysqlclient", "datastores", "mysql"),
    ("PyPI", "mysql-connector-python", "datastores", "mysql"),
    ("PyPI", "pymongo", "datastores", "mongodb"),
    ("PyPI", "motor", "datastores", "mongodb"),
    ("PyPI", "redis", "datastores", "redis"),
    ("PyPI", "elasticsearch", "datastores", "elasticsearch"),
    ("PyPI", "cassandra-driver", "datastores", "cassandra"),
    ("Maven", "org.postgresql:postgresql", "datastores", "postgres"),
    ("Maven", "com.mysql:mysql-connector-j", "datastores", "mysql"),
    ("Maven", "mysql:mysql-connector-java", "datastores", "mysql"),
    ("Maven", "org.mongodb:", "datastores", "mongodb"),
    ("Maven", "redis.clients:jedis", "datastores", "redis"),
    ("Maven", "io.lettuce:lettuce-core", "datastores", "redis"),
    ("Maven", "com.datastax.oss:", "datastores", "cassandra"),
    ("Maven", "co.elastic.clients:", "datastores", "elasticsearch"),
    ("npm", "pg", "datastores", "postgres"),
    ("npm", "mysql", "datastores", "mysql"),
    ("npm", "mysql2", "datastores", "mysql"),
    ("npm", "mongodb", "datastores", "mongodb"),
    ("npm", "mongoose", "datastores", "mongodb"),
    ("npm", "redis", "datastores", "redis"),
    ("npm", "ioredis", "datastores", "redis"),
    ("npm", "@elastic/elasticsearch", "datastores", "elasticsearch"),
    ("NuGet", "npgsql", "datastores", "postgres"),
    ("NuGet", "mysql.data", "datastores", "mysql"),
    ("NuGet", "mongodb.driver", "datastores", "mongodb"),
    ("NuGet", "stackexchange.redis", "datastores", "redis"),
    ("NuGet", "microsoft.data.sqlclient", "datastores", "sqlserver"),
    ("Go", "github.com/lib/pq", "datastores", "postgres"),
    ("Go", "github.com/jackc/pgx/", "datastores", "postgres"),
    ("Go", "github.com/go-sql-driver/mysql", "datastores", "mysql"),
    ("Go", "go.mongodb.org/mongo-driver", "datastores", "mongodb"),
    ("Go", "github.com/redis/go-redis/", "datastores", "redis"),
    ("Go", "github.com/go-redis/redis/", "datastores", "redis"),
    ("Go", "github.com/gomodule/redigo", "datastores", "redis"),
    ("Go", "cloud.google.com/go/spanner", "datastores", "postgres"),
    ("RubyGems", "pg", "datastores", "postgres"),
    ("RubyGems", "redis", "datastores", "redis"),
    # messaging
    ("PyPI", "kafka-python", "messaging", "kafka"),
    ("PyPI", "confluent-kafka", "messaging", "kafka"),
    ("PyPI", "pika", "messaging", "rabbitmq"),
    ("PyPI", "nats-py", "messaging", "nats"),
    ("Maven", "org.apache.kafka:", "messaging", "kafka"),
    ("Maven", "org.springframework.kafka:", "messaging", "kafka"),
    ("Maven", "com.rabbitmq:", "messaging", "rabbitmq"),
    ("npm", "kafkajs", "messaging", "kafka"),
    ("npm", "amqplib", "messaging", "rabbitmq"),
    ("npm", "nats", "messaging", "nats"),
    ("Go", "github.com/segmentio/kafka-go", "messaging", "kafka"),
    ("Go", "github.com/ibm/sarama", "messaging", "kafka"),
    ("Go", "github.com/shopify/sarama", "messaging", "kafka"),
    ("Go", "github.com/nats-io/nats.go", "messaging", "nats"),
    ("Go", "github.com/rabbitmq/amqp091-go", "messaging", "rabbitmq"),
    ("NuGet", "confluent.kafka", "messaging", "kafka"),
    ("NuGet", "rabbitmq.client", "messaging", "rabbitmq"),
    # XML parsers and template engines (flags)
    ("PyPI", "lxml", "xml_parsers", "yes"),
    ("PyPI", "xmltodict", "xml_parsers", "yes"),
    ("Maven", "org.dom4j:", "xml_parsers", "yes"),
    ("Maven", "xerces:", "xml_parsers", "yes"),
    ("Maven", "com.fasterxml.jackson.dataformat:jackson-dataformat-xml", "xml_parsers", "yes"),
    ("Maven", "jakarta.xml.bind:", "xml_parsers", "yes"),
    ("npm", "xml2js", "xml_parsers", "yes"),
    ("npm", "fast-xml-parser", "xml_parsers", "yes"),
    ("npm", "libxmljs", "xml_parsers", "yes"),
    ("npm", "libxmljs2", "xml_parsers", "yes"),
    ("NuGet", "system.xml.xmldocument", "xml_parsers", "yes"),
    ("PyPI", "jinja2", "template_engines", "yes"),
    ("PyPI", "mako", "template_engines", "yes"),
    ("PyPI", "django", "template_engines", "yes"),
    ("Maven", "org.thymeleaf:", "template_engines", "yes"),
    ("Maven", "org.freemarker:", "template_engines", "yes"),
    ("Maven", "org.apache.velocity:", "template_engines", "yes"),
    ("npm", "ejs", "template_engines", "yes"),
    ("npm", "pug", "template_engines", "yes"),
    ("npm", "handlebars", "template_engines", "yes"),
    ("npm", "nunjucks", "template_engines", "yes"),
    ("RubyGems", "rails", "template_engines", "yes"),
)

_EXACT: dict[tuple[str, str], list[tuple[str, str]]] = {}
_PREFIX: dict[str, list[tuple[str, str, str]]] = {}
for _eco, _name, _fact, _value in _RULES:
    if _name.endswith((":", "/", ".")):
        _PREFIX.setdefault(_eco, []).append((_name, _fact, _value))
    else:
        _EXACT.setdefault((_eco, _name), []).append((_fact, _value))


@lru_cache(maxsize=65536)
def _hits(ecosystem: str, key: str) -> tuple[tuple[str, str], ...]:
    """(fact, value) pairs one package name gives, looked up once per distinct name."""
    hits = list(_EXACT.get((ecosystem, key), ()))
    for prefix, fact, value in _PREFIX.get(ecosystem, ()):
        if key.startswith(prefix) or key == prefix.rstrip(":/."):
            hits.append((fact, value))
    return tuple(hits)


@dataclass
class SbomFacts:
    package_count: int = 0
    ecosystems: set[str] = field(default_factory=set)
    languages: set[str] = field(default_factory=set)
    frameworks: set[str] = field(default_factory=set)
    datastores: set[str] = field(default_factory=set)
    messaging: set[str] = field(default_factory=set)
    xml_parsers: bool = False
    template_engines: bool = False

    def add(self, ecosystem: str | None, name: str) -> None:
        self.package_count += 1
        if ecosystem is None:
            return
        base = ecosystem.split(":", 1)[0]
        self.ecosystems.add(base)
        language = LANGUAGE_OF_ECOSYSTEM.get(base)
        if language:
            self.languages.add(language)
        hits = _hits(base, name.lower())
        for fact, value in hits:
            if fact == "xml_parsers":
                self.xml_parsers = True
            elif fact == "template_engines":
                self.template_engines = True
            else:
                getattr(self, fact).add(value)

    def as_facts(self) -> dict[str, str | bool | int | list[str]]:
        return {
            "sbom.present": True,
            "sbom.package_count": self.package_count,
            "sbom.ecosystems": sorted(self.ecosystems),
            "sbom.languages": sorted(self.languages),
            "sbom.frameworks": sorted(self.frameworks),
            "sbom.datastores": sorted(self.datastores),
            "sbom.messaging": sorted(self.messaging),
            "sbom.xml_parsers": self.xml_parsers,
            "sbom.template_engines": self.template_engines,
        }


def infer(packages: Iterable[tuple[str | None, str]]) -> SbomFacts:
    facts = SbomFacts()
    for ecosystem, name in packages:
        facts.add(ecosystem, name)
    return facts
