"""Synthetic businesses (restaurant, web shop, salon) for the demo, the tests and the benchmarks."""

from .businesses import BUSINESSES, STAGE_OF_EVENT
from .generator import generate

__all__ = ["BUSINESSES", "STAGE_OF_EVENT", "generate"]
