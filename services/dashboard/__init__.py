"""The dashboard: a read model of the broadcast topics, the figures programmes are run
from, and the page that shows them (Thai and English)."""
