"""The REST API: a thin HTTP view over ``meshward.services`` (``create_app`` in ``app``)."""
