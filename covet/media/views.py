"""Product images in the editor: presigned uploads, confirmation, status, order, alt text, delete."""
from flask import Blueprint

bp = Blueprint("media", __name__)
