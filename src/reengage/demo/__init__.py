"""A generated demo clinic: ``reengage demo`` and the quickstart load it into an empty org."""

from reengage.demo.generator import Options, PatientHistory, generate
from reengage.demo.loader import DemoError, DemoSummary, load_demo

__all__ = ["DemoError", "DemoSummary", "Options", "PatientHistory", "generate", "load_demo"]
