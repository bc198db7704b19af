"""One router per area; ``safehold.api.app`` includes them all."""
