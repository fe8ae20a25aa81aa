"""Bridges to neighbouring systems, pure: their files or records in, orchrecon documents or events out."""
