"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""
import sys

from covet import ConfigError, create_app

try:
    app = create_app()
except ConfigError as exc:  # one clear line instead of a traceback
    sys.exit(f"covet: configuration error: {exc}")
