"""Statistics with no knowledge of preference data: agreement coefficients."""
