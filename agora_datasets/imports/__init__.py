"""The import formats (arena battles, LLMFAO, Agora's raw export) and the import service; the row shape
they produce is annotation.imports.rows."""
