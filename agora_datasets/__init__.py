"""Datasets in and out of Agora: the import formats and command, the exports (formats, background jobs,
the owners' export pages, the admin's export form) and the ExportJob model.

The Django app's label is ``datasets`` (admin URLs, migrations); the package is ``agora_datasets``
because a top-level ``datasets`` package would shadow Hugging Face's ``datasets``, which TRL imports and
the export tests read the files back with. It imports annotation; annotation never imports it.
"""
