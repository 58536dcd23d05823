"""The import formats (arena battles, arena-hard-auto, LMArena releases, HH-RLHF, Nectar, LLMFAO,
Agora's raw export), the file readers they share (files.py: JSON, JSONL, CSV, Parquet) and the
import service; the row shape they produce is annotation.imports.rows."""
