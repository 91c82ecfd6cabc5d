"""The consistent-hashing ring: lookup (Ring) and admin state (RingBuilder)."""
from swiftlike.ring.builder import RingBuilder
from swiftlike.ring.ring import Ring

__all__ = ['Ring', 'RingBuilder']
