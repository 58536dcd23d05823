"""Annotation quality in plain numpy/scipy: agreement between annotators and their competence."""
