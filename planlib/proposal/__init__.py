"""``planlib proposal``: the 策划书 for approval before the quarter (HTML, PDF, DOCX from one source)."""
