"""Product media: storage on S3 or local disk, renditions."""
