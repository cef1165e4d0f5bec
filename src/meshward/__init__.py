"""meshward: keeps an organisation's microservices secure as a whole."""

__version__ = "0.1.0"
