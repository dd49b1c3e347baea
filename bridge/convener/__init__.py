"""The convener's tools: value indicators, fair meeting times, and the commands that show them."""
