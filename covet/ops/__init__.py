"""Operations: health checks, start-up checks."""
