"""Annotation quality: agreement between annotators and their competence in plain numpy/scipy
(agreement, competence), and how a judgment row's answer is scored against a gold item (gold)."""
