"""Hub access: the one package that talks to the Hugging Face Hub — through
``huggingface_hub``, imported by ``client.py`` alone — with its configuration, rate
limits, retries, accounting, listing pages, snapshots, cache and errors."""
