"""The convener's tools: value indicators (``icop report``, the figures the report page and the monthly
mail show, the monthly mail and its loop) and fair meeting times (``icop meetings suggest``)."""
