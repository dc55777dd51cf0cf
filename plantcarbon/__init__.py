"""The plantcarbon application: the `plantcarbon` command and the live demo, on top of every part."""
