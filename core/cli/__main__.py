"""``python -m ptrun.cli`` (how torchrun and accelerate start ptrun in each process)."""

from ptrun.cli import main

main()
