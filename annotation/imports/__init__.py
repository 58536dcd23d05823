"""What every reader of judgment rows shares: the normalized row shape and its checks (rows.py) and
the record readers (records.py). The import formats and the exports that read and write these rows
live in agora_datasets; the item files of a project's queue (annotation/items.py) use them too."""
