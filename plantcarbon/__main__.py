"""`python -m plantcarbon`: the `plantcarbon` command."""

from plantcarbon.cli import main

if __name__ == "__main__":
    main()
