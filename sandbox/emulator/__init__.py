"""A local Hugging Face Hub emulator for tests, benchmarks and demos.

Serves ``ROOT/<org>/<name>/`` directories over real HTTP with the subset of
the Hub API that ``huggingface_hub`` uses; see :class:`HubEmulator`.
"""

from kinhub.sandbox.emulator.errors import BadRequestError, EmulatorError
from kinhub.sandbox.emulator.faults import ScriptedFault
from kinhub.sandbox.emulator.server import HubEmulator

__all__ = ["BadRequestError", "EmulatorError", "HubEmulator", "ScriptedFault"]
