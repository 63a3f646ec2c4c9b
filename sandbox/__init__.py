"""The sandbox: a Hub emulator and one generator of synthetic hubs and weights.

``emulator/`` serves a folder of repos over real HTTP as the Hugging Face Hub does
(for tests, benchmarks and the demo).  The generator: ``tensors`` (llama-shaped
states, fine-tunes, merges with the real formulas), ``weights`` (the one
safetensors writer), ``cards`` (cards and recipes as tools write them), ``hub``
(synthetic hubs with a known genealogy and their manifest) and ``families`` (fixed
families with known relations).  No product room imports the sandbox.
"""
