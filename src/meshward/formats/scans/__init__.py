"""Scan-report readers (SAST, DAST, SCA): SARIF, Semgrep, Bandit, ZAP, Trivy and Grype
reports normalised into one ``ScanReport`` shape (``interface``); ``registry.read_scan``
picks the reader from the content. Parse only; never touch a database."""
