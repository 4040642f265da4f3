"""``python -m xlcli`` (and ``torchrun -m xlcli train ...`` for several GPUs)."""

from xlcli.cli import main

main()
