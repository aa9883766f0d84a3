"""`python -m cmner_build` runs the same command line as `cmner-build`."""

from cmner_build.cli import main

main()
