"""One router per resource area, all under ``/api/v1``."""
