"""RQ entry points for images (queue `low`): renditions, and removing a deleted image's files."""
from covet.jobs import job
from covet.media import pipeline


@job(queue="low", timeout=300, retry=(30, 120, 600))
def process_image(media_id: int) -> str:
    """Make the renditions of one uploaded image."""
    return pipeline.process_media(media_id)


@job(queue="low", timeout=120, retry=(30, 120, 600))
def delete_stored_objects(*keys: str) -> int:
    """Remove a deleted image's original and renditions from storage (its row is already gone)."""
    return pipeline.delete_objects(keys)
