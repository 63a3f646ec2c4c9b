"""Hub access: the one package that talks to the Hugging Face Hub (through
``huggingface_hub``), its rate limits and errors, and the Hub emulator beside it."""
