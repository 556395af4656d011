"""Transactional email: templates, backends (SMTP, Resend, console) and the outbox."""
