"""Web plumbing shared by every blueprint: htmx rendering, security headers, errors, the access policy."""
