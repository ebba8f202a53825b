"""The columnar floor's stages (bench/columnar_floor.py): a batch as columns, never an object an event."""
