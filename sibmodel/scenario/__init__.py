"""The scenario: its format (pydantic schema), uncertain quantities, loading YAML safely, limits, the assumption log."""
