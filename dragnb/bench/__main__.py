"""``python -m dragnb.bench``: see ``dragnb.bench.cli``."""
from .cli import main

main()
