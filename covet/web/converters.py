"""URL converters: an `<int:…>` path id beyond what the database column can hold is a 404, never a 500."""
from werkzeug.routing import IntegerConverter

# Our primary keys are INTEGER on PostgreSQL; a larger value can never name a row, and binding it raises
# "integer out of range" inside the query (the 500 a hostile tester found on every `<int:>` route).
MAX_ID = 2**31 - 1


class BoundedIntConverter(IntegerConverter):
    """Flask's `int` converter, capped at MAX_ID (werkzeug then answers 404 for a larger id)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def install(app) -> None:
    """Replace the default `int` converter before any route is added."""
    app.url_map.converters["int"] = BoundedIntConverter
